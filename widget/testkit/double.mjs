/**
 * A test double of the Likeness server for the widget's own browser tests:
 * serves static/ and answers /widget/check and /widget/ws, where each test
 * plays the server's side of the protocol by hand. It is no model of the
 * real server; the end-to-end test against the Go server lives elsewhere.
 */

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { extname, join } from 'node:path';
import { WebSocketServer } from 'ws';

/** The CSP the pages are served with (what a careful site would use). */
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'";

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/**
 * Resolves with the next item pushed, in order.
 * @template T
 */
class Queue {
  /** @type {T[]} */ items = [];
  /** @type {((item: T) => void)[]} */ waiters = [];

  /** @param {T} item */
  push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  /**
   * @param {number} timeoutMs
   * @param {string} what for the timeout message
   * @returns {Promise<T>}
   */
  next(timeoutMs, what) {
    if (this.items.length) return Promise.resolve(/** @type {T} */ (this.items.shift()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter = (/** @type {T} */ item) => {
        clearTimeout(timer);
        resolve(item);
      };
      this.waiters.push(waiter);
    });
  }
}

/** One widget connection, seen from the server. */
export class Connection {
  /**
   * @param {import('ws').WebSocket} ws
   * @param {http.IncomingMessage} req
   */
  constructor(ws, req) {
    this.ws = ws;
    this.url = new URL(req.url ?? '/', 'http://double');
    this.origin = req.headers.origin;
    /** @type {Buffer[]} binary frames received */
    this.frames = [];
    /** @type {Queue<any>} control messages received */
    this.messages = new Queue();
    this.closed = new Promise((resolve) => ws.on('close', resolve));
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.frames.push(/** @type {Buffer} */ (data));
      else this.messages.push(JSON.parse(data.toString()));
    });
  }

  /**
   * The next control message (frames are collected apart).
   * @param {number} [timeoutMs]
   */
  next(timeoutMs = 10_000) {
    return this.messages.next(timeoutMs, 'a control message');
  }

  /**
   * Waits until at least n frames arrived.
   * @param {number} n
   * @param {number} [timeoutMs]
   */
  async waitFrames(n, timeoutMs = 10_000) {
    const end = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      if (Date.now() > end) throw new Error(`got ${this.frames.length} frames, wanted ${n}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.frames;
  }

  /** @param {object} msg */
  send(msg) {
    this.ws.send(JSON.stringify(msg));
  }

  close() {
    this.ws.close(1000);
  }
}

/**
 * Starts the double on 127.0.0.1 (random port).
 * @param {{staticDir: string, extraPages?: Record<string, {body: string, csp: string}>}} options
 */
export async function startDouble({ staticDir, extraPages = {} }) {
  /** @type {Queue<Connection>} */
  const connections = new Queue();
  /** @type {Map<string, {status: number, body: object}>} publicId → refusal of the check */
  const refusals = new Map();
  /** @type {string[]} every URL requested over HTTP */
  const requests = [];
  let connectionCount = 0;

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://double');
    requests.push(url.pathname + url.search);
    if (url.pathname === '/widget/check') {
      const refusal = refusals.get(url.searchParams.get('publicId') ?? '');
      res.writeHead(refusal ? refusal.status : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(refusal ? refusal.body : { ok: true }));
      return;
    }
    const extra = extraPages[url.pathname];
    if (extra) {
      res.writeHead(200, { 'content-type': TYPES['.html'], 'content-security-policy': extra.csp });
      res.end(extra.body);
      return;
    }
    const name = url.pathname.replace(/^\/+/, '');
    if (!/^[a-z]+\.(html|js)$/.test(name)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(staticDir, name));
      res.writeHead(200, { 'content-type': TYPES[extname(name)], 'content-security-policy': CSP, 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  server.on('upgrade', (req, socket, head) => {
    if (!req.url?.startsWith('/widget/ws?')) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      connectionCount += 1;
      connections.push(new Connection(ws, req));
    });
  });

  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}`,
    refusals,
    requests,
    get connectionCount() {
      return connectionCount;
    },
    /** The next widget connection. */
    nextConnection: (timeoutMs = 10_000) => connections.next(timeoutMs, 'a WebSocket connection'),
    async close() {
      for (const ws of wss.clients) ws.terminate();
      const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
      server.closeAllConnections();
      await closed;
    },
  };
}
