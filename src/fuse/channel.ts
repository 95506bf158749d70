/**
 * The server loop on an open /dev/fuse: one read(2) at a time in libuv's thread pool (so the
 * event loop keeps running timers and INTERRUPTs while no request is pending), or, for a
 * process with nothing else to do, on this thread; each request handed to the operations,
 * each reply one write(2). The loop ends when the kernel says the
 * connection is gone (ENODEV after the last unmount).
 */
import * as fs from 'node:fs';
import * as P from './protocol.js';
import type { FuseOps } from './ops.js';

export interface ChannelEvents {
  /** INIT was answered: requests flow (the mount is usable) */
  onInit?: () => void;
  /** a request failed in a way that is a bug (logged, answered EIO) */
  onError?: (e: unknown) => void;
  /** checked while the fd waits to be attached to a mount: true gives up (the mount failed) */
  abandoned?: () => boolean;
  /**
   * Whether to read the next request with a blocking read(2) on this thread (checked before
   * each read; never while a writer sleeps on a busy device, whose wake-up needs timers).
   * Each request then costs no thread hop, but nothing else in this process runs until
   * the next request comes: only for a process that has nothing else to do meanwhile.
   */
  blocking?: () => boolean;
}

function readOnce(fd: number, buf: Buffer): Promise<number> {
  return new Promise((res, rej) => fs.read(fd, buf, 0, buf.length, null, (err, n) => (err ? rej(err) : res(n))));
}

/** Serve until the connection ends. */
export async function serve(fd: number, ops: FuseOps, ev: ChannelEvents = {}): Promise<void> {
  const buf = Buffer.alloc(P.READ_BUFFER_SIZE);
  const send = (unique: bigint, error: number, body?: Buffer): void => {
    try {
      fs.writeSync(fd, P.reply(unique, error, body));
    } catch (e) {
      // ENOENT: the kernel dropped the request meanwhile (the caller was killed); nothing to do
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENODEV') ev.onError?.(e);
    }
  };
  let initialized = false;
  try {
    for (;;) {
      let n: number;
      try {
        n = ev.blocking?.() && ops.sleeping === 0 ? fs.readSync(fd, buf, 0, buf.length, null) : await readOnce(fd, buf);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EINTR' || code === 'EAGAIN') continue; // interrupted before it was read
        if (code === 'EPERM' && !initialized) {
          if (ev.abandoned?.()) return;
          // the fd is not attached to a mount yet (mount(8) is still running)
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        if (code === 'ENODEV' || code === 'ECONNABORTED') return; // unmounted
        throw e;
      }
      if (n < P.IN_HEADER_SIZE) continue;
      const req = Buffer.from(buf.subarray(0, n));
      const h = P.decodeHeader(req);
      if (h.opcode === P.OP.INIT) {
        const init = P.decodeInit(req);
        if (init.major !== P.FUSE_KERNEL_VERSION) {
          send(h.unique, 71 /* EPROTO */);
          return;
        }
        const minor = Math.min(init.minor, P.FUSE_KERNEL_MINOR_VERSION);
        send(h.unique, 0, P.initOut(minor, init.maxReadahead, init.flags & P.FUSE_ATOMIC_O_TRUNC));
        initialized = true;
        ev.onInit?.();
        continue;
      }
      // answered (or asleep on a busy device) before the next read: microtasks and the lock run here
      await ops.handle(h, req, (error, body) => send(h.unique, error, body));
    }
  } finally {
    ops.close();
  }
}
