# Measures PIN hashing under load (docs/security.md, "Denial of service").
# Usage, in a directory holding app.json (`likeness app create --json`), fid (an
# enrolled Facial ID) and pid (the server process, for its peak RSS), with the
# server on 127.0.0.1:18099: python3 dos-pins.py 120
import json,sys,threading,urllib.request,urllib.error,time,collections
key=json.load(open('app.json'))['apiKey']; fid=open('fid').read().strip()
pid=open('pid').read().strip()
n=int(sys.argv[1])
res=collections.Counter(); lat=[]; ra=set()
def one(i):
    body=json.dumps({"key":key,"fid":fid,"pin":"5%07d"%(1379*i+4821)}).encode()
    req=urllib.request.Request("http://127.0.0.1:18099/setfacialidpincode",data=body,headers={"Content-Type":"application/json"})
    t=time.time()
    try:
        r=urllib.request.urlopen(req,timeout=60); res[r.status]+=1
    except urllib.error.HTTPError as e:
        res[e.code]+=1; ra.add(e.headers.get('Retry-After'))
    except Exception as e:
        res[type(e).__name__]+=1
    lat.append(time.time()-t)
ts=[threading.Thread(target=one,args=(i,)) for i in range(n)]
t0=time.time()
[t.start() for t in ts]; [t.join() for t in ts]
lat.sort()
hwm=[l for l in open(f'/proc/{pid}/status') if l.startswith('VmHWM')][0].split()[1]
print(f"{n} concurrent PIN sets: statuses {dict(res)}, Retry-After {ra}, wall {time.time()-t0:.1f}s, p50 {lat[len(lat)//2]:.2f}s, max {lat[-1]:.2f}s, server peak RSS {int(hwm)//1024} MiB")
