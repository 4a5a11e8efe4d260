// Runs a program from the JavaScript generator against the classroom server over socket.io `/kid`.
//
// The same module runs in the browser (the app) and in Node (the tests), with any socket.io-client
// socket already connected to `/kid`. It is the `dojo` object the generated code calls:
//   highlight(id)            light a block up before it runs (and end the run if Stop was pressed)
//   block(id, args, blockId) one `block` event; waits for the car's one final answer (BlockReply)
//   read(kind)               distance / x / y / heading from telemetry, fresh after a move (like the SDK)
//   onObstacle(cm, fn, id)   an event handler: fires when the distance drops below cm (with hysteresis)
//   tick(id)                 in every loop: Stop ends even `repeat forever`, and the page stays responsive
//
// A refusal or failure ends the run and is reported with the Blockly id of the block that caused it.

export const RUN_START_TIMEOUT_MS = 5_000; // run_start only checks the program; 5 s means the server is gone
export const BLOCK_REPLY_TIMEOUT_MS = 180_000; // as the SDK: the server answers every block (skills <= 120 s + queue)
export const STOP_ACK_TIMEOUT_MS = 2_000; // stop skips every queue; no ack in 2 s means the link is gone
export const FIRST_TELEMETRY_WAIT_MS = 2_000; // 20 Hz telemetry: 2 s without any means the car is not there
export const FRESH_TELEMETRY_WAIT_MS = 250; // after a move, wait for one telemetry newer than its reply (as the SDK)
export const OBSTACLE_HYSTERESIS_CM = 5; // as the SDK: re-arm only 5 cm beyond the line, so noise fires once
export const TICKS_PER_YIELD = 200; // a loop without car blocks gives the page a frame this often

/** The run ended because someone pressed Stop (or a newer program started). */
export class RunStopped extends Error {
  constructor(message = 'stopped') { super(message); this.name = 'RunStopped'; }
}

/** A block was refused or failed: kidText is for the kid, next to the block with blockId. */
export class BlockProblem extends Error {
  constructor(kidText, { blockId = null, status = 'failed', detail = '', reply = null } = {}) {
    super(kidText);
    this.name = 'BlockProblem';
    Object.assign(this, { kidText, blockId, status, detail, reply });
  }
}

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;

/** Compile generated code once (a syntax error is our bug, reported before anything moves). */
export function compileProgram(code) {
  return new AsyncFunction('dojo', `"use strict";\n${code}`);
}

function emitWithAck(socket, event, payload, timeoutMs) {
  return new Promise((resolve, reject) => {
    socket.timeout(timeoutMs).emit(event, payload, (err, reply) => {
      if (err) reject(new BlockProblem('The classroom did not answer in time — try again.',
        { status: 'timed_out', detail: `no ack to ${event} within ${timeoutMs} ms` }));
      else resolve(reply);
    });
  });
}

/**
 * One runner per kid connection. hooks: onHighlight(blockId|null), onProblem(BlockProblem),
 * onStatus('running'|'finished'|'stopped'|'refused'|'failed'|'listening', text), onNote({blockId, kidText, rule})
 * for a block the car did differently than asked (a turn that had to back up near a wall).
 */
export class ProgramRunner {
  constructor(socket, hooks = {}, { now = () => Date.now(), setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
    this.socket = socket;
    this.hooks = hooks;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.telemetry = null;
    this.telemetryCount = 0;
    this.lastReplyAtCount = 0;
    this.telemetryWaiters = new Set();
    this.current = null; // the running program's state
    this.onTelemetry = (t) => this.#telemetry(t);
    socket.on('telemetry', this.onTelemetry);
  }

  get running() { return this.current !== null; }

  dispose() {
    this.socket.off('telemetry', this.onTelemetry);
  }

  /**
   * Run a program: run_start (the server checks it against the level) then the generated code.
   * With a lessonId the run is an attempt at that lesson (graded; a `feedback` event follows).
   * Resolves to {status, text?, blockId?, runId?} once the program is over; never rejects.
   */
  async run(program, code, { lessonId = null } = {}) {
    if (this.current) await this.stop('a newer program started');
    const run = { aborted: false, abortWaiters: new Set(), handlers: [], queue: [], handlerBusy: false,
      runId: null, ticks: 0, done: null };
    run.done = new Promise((resolve) => { run.finish = resolve; });
    this.current = run;
    let fn;
    try {
      fn = compileProgram(code);
    } catch (err) {
      return this.#end(run, { status: 'failed', text: `This program has a mistake I can't run (${err.message}).` });
    }
    let started;
    try {
      const start = lessonId ? { source: 'blockly', program, lesson_id: lessonId } : { source: 'blockly', program };
      started = await emitWithAck(this.socket, 'run_start', start, RUN_START_TIMEOUT_MS);
    } catch (err) {
      return this.#end(run, { status: 'failed', text: err.kidText || String(err.message) });
    }
    if (!started || !started.run_id) {
      const text = started?.kid_text || started?.error?.message || 'The classroom did not start the program.';
      const problem = new BlockProblem(text, { status: 'refused', blockId: started?.ref || null, detail: started?.detail || '', reply: started });
      this.hooks.onProblem?.(problem);
      return this.#end(run, { status: 'refused', text, blockId: problem.blockId });
    }
    run.runId = started.run_id;
    // A lesson puts the car at its start as the run begins: the first reading must be from after that.
    this.lastReplyAtCount = this.telemetryCount;
    this.hooks.onStatus?.('running', '', run.runId);
    try {
      await fn(this.#api(run));
      if (run.handlers.length && !run.aborted) {
        // Event blocks keep listening until Stop, like a Scratch project after the green flag.
        this.hooks.onHighlight?.(null);
        this.hooks.onStatus?.('listening');
        await new Promise((resolve, reject) => this.#onAbort(run, resolve, reject));
      }
      return await this.#end(run, { status: 'finished' });
    } catch (err) {
      return this.#end(run, this.#outcome(run, err));
    }
  }

  /** Stop at once: the car stops (the `stop` event skips every queue) and the program ends. */
  async stop(reason = 'stop') {
    const run = this.current;
    if (run) this.#abort(run, new RunStopped(reason));
    const ack = emitWithAck(this.socket, 'stop', { reason: reason.slice(0, 200) }, STOP_ACK_TIMEOUT_MS).catch(() => null);
    if (run) await run.done;
    return ack;
  }

  #outcome(run, err) {
    if (err instanceof RunStopped || (run.aborted && !(err instanceof BlockProblem))) {
      return { status: 'stopped', text: run.abortReason || err?.message || 'stopped' };
    }
    if (err instanceof BlockProblem) {
      this.hooks.onProblem?.(err);
      return { status: err.status === 'refused' ? 'refused' : 'failed', text: err.kidText, blockId: err.blockId };
    }
    const problem = new BlockProblem(`Something went wrong in the program: ${err?.message || err}`, { status: 'failed' });
    this.hooks.onProblem?.(problem);
    return { status: 'failed', text: problem.kidText };
  }

  async #end(run, result) {
    if (run.ended) return run.result;
    run.ended = true;
    run.result = { ...result, runId: run.runId };
    this.#abort(run, new RunStopped(result.status));
    if (run.runId) {
      const reason = { finished: 'finished', stopped: 'stopped by kid' }[result.status] || result.status;
      await emitWithAck(this.socket, 'run_end', { run_id: run.runId, reason }, STOP_ACK_TIMEOUT_MS).catch(() => null);
    }
    if (this.current === run) this.current = null;
    this.hooks.onHighlight?.(null);
    this.hooks.onStatus?.(result.status, result.text);
    run.finish(run.result);
    return run.result;
  }

  #abort(run, err) {
    if (run.aborted) return;
    run.aborted = true;
    run.abortReason = err.message;
    for (const waiter of run.abortWaiters) waiter(err);
    run.abortWaiters.clear();
  }

  /** Call reject(err) if the run is aborted while we wait; resolve() is kept for the caller. */
  #onAbort(run, resolve, reject) {
    if (run.aborted) { reject(new RunStopped(run.abortReason)); return () => {}; }
    const waiter = (err) => reject(err);
    run.abortWaiters.add(waiter);
    return () => run.abortWaiters.delete(waiter);
  }

  /** Any promise, but one that ends with RunStopped the moment the run is aborted. */
  #abortable(run, promise) {
    return new Promise((resolve, reject) => {
      const forget = this.#onAbort(run, resolve, reject);
      promise.then((v) => { forget(); resolve(v); }, (e) => { forget(); reject(e); });
    });
  }

  #telemetry(t) {
    this.telemetry = t;
    this.telemetryCount += 1;
    for (const wake of this.telemetryWaiters) wake();
    const run = this.current;
    if (!run || run.aborted) return;
    const distance = t?.distance_cm;
    for (const h of run.handlers) {
      if (distance === null || distance === undefined || distance > h.threshold + OBSTACLE_HYSTERESIS_CM) {
        h.armed = true;
      } else if (h.armed && distance < h.threshold) {
        h.armed = false;
        this.#fireHandler(run, h);
      }
    }
  }

  // Handlers run one at a time (as the SDK's handler thread), next to the main program.
  #fireHandler(run, handler) {
    run.queue.push(handler);
    if (run.handlerBusy) return;
    run.handlerBusy = true;
    (async () => {
      while (run.queue.length && !run.aborted) {
        const h = run.queue.shift();
        try {
          await h.fn();
        } catch (err) {
          if (!(err instanceof RunStopped) && !run.aborted) {
            this.#end(run, this.#outcome(run, err));
          }
        }
      }
      run.handlerBusy = false;
    })();
  }

  #waitForTelemetry(ms) {
    return new Promise((resolve) => {
      let timer = null;
      const wake = () => {
        this.clearTimer(timer);
        this.telemetryWaiters.delete(wake);
        resolve();
      };
      timer = this.setTimer(wake, ms);
      this.telemetryWaiters.add(wake);
    });
  }

  async #freshTelemetry(run) {
    const deadline = this.now() + FIRST_TELEMETRY_WAIT_MS;
    while (!this.telemetry) {
      const left = deadline - this.now();
      if (left <= 0) {
        throw new BlockProblem("I can't see where your car is yet — is it switched on?",
          { status: 'failed', detail: `no telemetry for ${FIRST_TELEMETRY_WAIT_MS} ms` });
      }
      await this.#abortable(run, this.#waitForTelemetry(left));
    }
    const freshBy = this.now() + FRESH_TELEMETRY_WAIT_MS;
    while (this.telemetryCount <= this.lastReplyAtCount && this.now() < freshBy) {
      await this.#abortable(run, this.#waitForTelemetry(freshBy - this.now()));
    }
    return this.telemetry;
  }

  #api(run) {
    const runner = this;
    const check = () => { if (run.aborted) throw new RunStopped(run.abortReason); };
    return Object.freeze({
      highlight(blockId) {
        check();
        runner.hooks.onHighlight?.(blockId);
      },
      async tick() {
        check();
        run.ticks += 1;
        if (run.ticks % TICKS_PER_YIELD === 0) {
          await new Promise((resolve) => runner.setTimer(resolve, 0));
          check();
        }
      },
      async block(blockId, args, ref) {
        check();
        const payload = { block: blockId, args, ref, run_id: run.runId, source: 'blockly' };
        let reply;
        try {
          reply = await runner.#abortable(run, emitWithAck(runner.socket, 'block', payload, BLOCK_REPLY_TIMEOUT_MS));
        } catch (err) {
          if (err instanceof BlockProblem) err.blockId = ref;
          throw err;
        }
        runner.lastReplyAtCount = runner.telemetryCount;
        const status = reply?.status;
        if (status === 'done') {
          if (reply.rule && reply.kid_text) runner.hooks.onNote?.({ blockId: ref, kidText: reply.kid_text, rule: reply.rule });
          return reply;
        }
        if (status === 'cancelled') throw new RunStopped(reply.kid_text || 'cancelled');
        const text = reply?.kid_text || reply?.error?.message || `The car could not do ${blockId} (${status}).`;
        throw new BlockProblem(text, { blockId: ref, status: status || 'failed', detail: reply?.detail || '', reply });
      },
      async read(kind) {
        check();
        const t = await runner.#freshTelemetry(run);
        if (kind === 'distance') {
          return t.distance_cm === null || t.distance_cm === undefined ? Infinity : Math.round(t.distance_cm * 10) / 10;
        }
        const pose = t.pose || {};
        const value = { x: pose.x_cm, y: pose.y_cm, heading: pose.heading_deg }[kind];
        return Math.round(Number(value) * 10) / 10;
      },
      onObstacle(threshold, fn, hatId) {
        run.handlers.push({ threshold: Number(threshold), fn, hatId, armed: true });
      },
    });
  }
}
