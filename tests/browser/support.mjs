// What the browser tests share: child processes stopped by pid, and bounded waits in a
// page that fail with what the page shows.

// Every single wait, in milliseconds.
export const WAIT_MS = 10_000;

// Whether a started process (as the tests' start helpers return it: { child, exited,
// error, ... }) still runs. A command that could not be spawned (ENOENT, say) never ran.
export const running = (proc) =>
  Boolean(proc && !proc.error && proc.child.exitCode === null && proc.child.signalCode === null);

// SIGTERM to its pid, SIGKILL after `ms`; resolves with how it ended (null: it had to be
// killed).
export async function stop(proc, ms = WAIT_MS) {
  if (!running(proc)) return proc ? proc.exited : null;
  proc.child.kill('SIGTERM');
  let timer;
  const ended = await Promise.race([proc.exited, new Promise((r) => { timer = setTimeout(() => r(null), ms); })]);
  clearTimeout(timer);
  if (ended === null) { proc.child.kill('SIGKILL'); await proc.exited; }
  return ended;
}

// A process's name, pid and output, for a failure message.
export function describeProc(proc) {
  const failed = proc.error ? `\nspawn failed: ${proc.error.message}` : '';
  return `${proc.name} (pid ${proc.child.pid})${failed}\nstdout: ${proc.stdout}\nstderr: ${proc.stderr}`;
}

// waitIn(page, what, fn, arg): waits (bounded) until fn(arg) is truthy in the page; fails
// naming the page (`page.__who`) with what `snapshot(page)` says it shows.
export function pageWaiter(snapshot) {
  return async function waitIn(page, what, fn, arg) {
    try {
      await page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 50 });
    } catch (err) {
      const who = page.__who || 'page';
      throw new Error(`${who}: timed out after ${WAIT_MS} ms waiting for ${what}\n` +
        `page shows: ${JSON.stringify(await snapshot(page), null, 2)}\n(${err.message.split('\n')[0]})`);
    }
  };
}
