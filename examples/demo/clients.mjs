// Raw keep-alive clients on net sockets: they can pipeline, and they see exactly
// how the server closes (a clean FIN, or a reset).
import net from 'node:net';

export class DemoClient {
  /** @param {string} label @param {net.Socket} socket */
  constructor(label, socket, report) {
    this.label = label;
    this.socket = socket;
    this.responses = [];
    this.sent = 0;
    this.closedHow = undefined;
    this.buffer = '';
    this.report = report;
    this.waiters = [];
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('end', () => {
      this.closedHow ??= 'FIN';
      report(this, 'server closed the connection cleanly (FIN)');
      this.wake();
    });
    socket.on('error', (error) => {
      this.closedHow = error.code === 'ECONNRESET' ? 'reset' : error.code;
      report(this, `connection error: ${error.code}`);
      this.wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', resolve));
  }

  static async open(label, port, report) {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new DemoClient(label, socket, report);
  }

  get localPort() {
    return this.socket.localPort;
  }

  /** Sends one or more GET requests in a single write (more than one = pipelined). */
  get(...paths) {
    this.sent += paths.length;
    this.socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: demo\r\n\r\n`).join(''));
  }

  /** Resolves with the next response (status and headers) this client receives. */
  nextResponse() {
    const index = this.responses.length;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.responses.length > index) resolve(this.responses[index]);
        else if (this.closedHow) reject(new Error(`client ${this.label} closed before a response`));
        else this.waiters.push(check);
      };
      check();
    });
  }

  wake() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  onData(chunk) {
    this.buffer += chunk;
    for (;;) {
      const headEnd = this.buffer.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const head = this.buffer.slice(0, headEnd);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buffer.length < headEnd + 4 + length) return;
      this.buffer = this.buffer.slice(headEnd + 4 + length);
      const status = Number(head.slice(9, 12));
      const connectionClose = /\r\nconnection: *close/i.test(head);
      this.responses.push({ status, connectionClose });
      this.report(this, `response ${status}${connectionClose ? ' with "Connection: close"' : ' (keep-alive)'}`);
      this.wake();
    }
  }
}
