// How the demo shows what happens: in a terminal, a progress bar that redraws in
// place under the event lines; elsewhere (CI, logs, pipes) plain lines only.

const CLEAR_LINE = '\r\x1b[2K';
const BAR_WIDTH = 28;
const REDRAW_MS = 100;

export class LiveView {
  /**
   * @param {{ live: boolean, color: boolean, out?: NodeJS.WriteStream, startedAt?: number }} options
   */
  constructor({ live, color, out = process.stdout, startedAt = Date.now() }) {
    this.live = live;
    this.color = color;
    this.out = out;
    this.startedAt = startedAt;
    this.bar = undefined;
    this.timer = undefined;
  }

  paint(code, text) {
    return this.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  elapsed() {
    return `+${((Date.now() - this.startedAt) / 1000).toFixed(3)}s`;
  }

  /** One event line, with the time since start and who it concerns. */
  event(who, text) {
    this.write(`${this.paint('2', this.elapsed())}  ${who.padEnd(2)} ${text}`);
  }

  /** A line that marks a step of the scenario. */
  step(text) {
    this.write(`${this.paint('2', this.elapsed())}  ${this.paint('1;36', `>> ${text}`)}`);
  }

  write(line) {
    if (this.live && this.bar) this.out.write(`${CLEAR_LINE}${line}\n${this.renderBar()}`);
    else this.out.write(`${line}\n`);
  }

  /** A drain began: show connections remaining until it ends. */
  startProgress(title, total, deadlineMs) {
    this.bar = { title, total, remaining: total, startedAt: Date.now(), deadlineMs };
    if (this.live) {
      this.out.write(this.renderBar());
      // Redraws the elapsed time against the deadline between events.
      this.timer = setInterval(() => this.out.write(CLEAR_LINE + this.renderBar()), REDRAW_MS);
    } else {
      this.out.write(`progress: ${title}: ${total} of ${total} connections remaining\n`);
    }
  }

  progress(remaining) {
    const bar = this.bar;
    if (!bar || remaining === bar.remaining) return;
    bar.remaining = remaining;
    if (this.live) this.out.write(CLEAR_LINE + this.renderBar());
    else this.out.write(`progress: ${bar.title}: ${remaining} of ${bar.total} connections remaining\n`);
  }

  endProgress() {
    if (!this.bar) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.live) this.out.write(`${CLEAR_LINE}${this.renderBar()}\n`);
    this.bar = undefined;
  }

  renderBar() {
    const { title, total, remaining, startedAt, deadlineMs } = this.bar;
    const done = total === 0 ? BAR_WIDTH : Math.round(((total - remaining) / total) * BAR_WIDTH);
    const blocks = this.paint('32', '█'.repeat(done)) + this.paint('2', '░'.repeat(BAR_WIDTH - done));
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    return `   ${title} [${blocks}] ${remaining}/${total} connections remaining  ${seconds}s of ${(deadlineMs / 1000).toFixed(1)}s deadline`;
  }

  /** The final table: rows of equal keys; `fate` is coloured in a terminal. */
  table(columns, rows) {
    const widths = columns.map(([key, title]) => Math.max(title.length, ...rows.map((row) => String(row[key]).length)));
    const format = (cells) => cells.map((cell, i) => String(cell).padEnd(widths[i])).join('  ').trimEnd();
    const fateColor = { completed: '32', 'closed idle': '32', dropped: '33', forced: '31' };
    this.write('');
    this.write(this.paint('1', format(columns.map(([, title]) => title))));
    for (const row of rows) {
      const line = format(columns.map(([key]) => row[key]));
      const fate = String(row.fate);
      this.write(this.color && fateColor[fate] ? line.replace(new RegExp(`${fate}$`), this.paint(fateColor[fate], fate)) : line);
    }
    this.write('');
  }

  close() {
    this.endProgress();
  }
}
