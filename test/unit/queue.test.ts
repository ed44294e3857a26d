import { describe, expect, it } from 'vitest';
import { BatchQueue } from '../../src/queue/batch-queue';
import { FlushScheduler } from '../../src/queue/flush-scheduler';
import { FakeClock, settle, wireEvent } from './harness';

describe('BatchQueue', () => {
  it('push returns the new length; take empties it and returns the events in order', () => {
    const queue = new BatchQueue();
    expect(queue.length).toBe(0);
    expect(queue.push(wireEvent(1))).toBe(1);
    expect(queue.push(wireEvent(2))).toBe(2);
    expect(queue.length).toBe(2);
    const taken = queue.take();
    expect(taken.map((e) => e.data.idempotence_id)).toEqual(['id-1', 'id-2']);
    expect(queue.length).toBe(0);
    expect(queue.take()).toEqual([]);
    queue.push(wireEvent(3));
    expect(taken).toHaveLength(2); // the taken array is not the queue's any more
  });
});

describe('FlushScheduler', () => {
  /** `queued`: whether events wait (the client's queue); the test sets it as events come and go. */
  function rig(intervalMs: number) {
    const clock = new FakeClock();
    let due = 0;
    const state = { queued: true };
    const scheduler = new FlushScheduler(intervalMs, clock.schedule, () => void due++, () => state.queued);
    return { clock, scheduler, due: () => due, state };
  }

  it('no timer while idle', () => {
    const { clock } = rig(1_000);
    expect(clock.pending).toBe(0);
  });

  it('interval: one timer from the first arm(), due once after intervalMs', async () => {
    const { clock, scheduler, due } = rig(1_000);
    scheduler.arm();
    scheduler.arm(); // a second event does not restart or add a timer
    expect(clock.pending).toBe(1);
    expect(clock.delays).toEqual([1_000]);
    await clock.advance(999);
    expect(due()).toBe(0);
    await clock.advance(1);
    expect(due()).toBe(1);
    expect(clock.pending).toBe(0);
    scheduler.arm(); // fired: the next arm starts a new timer
    expect(clock.pending).toBe(1);
    await clock.advance(1_000);
    expect(due()).toBe(2);
  });

  it('cancel() stops the timer, and a later arm() starts afresh', async () => {
    const { clock, scheduler, due } = rig(500);
    scheduler.arm();
    scheduler.cancel();
    expect(clock.pending).toBe(0);
    await clock.advance(1_000);
    expect(due()).toBe(0);
    scheduler.arm();
    expect(clock.pending).toBe(1);
    scheduler.cancel();
    scheduler.cancel(); // twice is harmless
    expect(clock.pending).toBe(0);
  });

  it('0: due at the end of the current task, once for a burst, with no timer', async () => {
    const { clock, scheduler, due } = rig(0);
    scheduler.arm();
    scheduler.arm();
    scheduler.arm();
    expect(due()).toBe(0);
    expect(clock.pending).toBe(0);
    await Promise.resolve();
    expect(due()).toBe(1);
    scheduler.arm();
    await settle();
    expect(due()).toBe(2);
  });

  it('0: cancel() before the end of the task means no call', async () => {
    const { scheduler, due } = rig(0);
    scheduler.arm();
    scheduler.cancel();
    await settle();
    expect(due()).toBe(0);
    scheduler.arm(); // can be armed again after a cancel
    await settle();
    expect(due()).toBe(1);
  });

  it('a batch cut because it was full leaves the timer to the next partial batch: one timer for a burst, still due intervalMs after that batch began', async () => {
    const { clock, scheduler, due, state } = rig(1_000);
    scheduler.arm(); // batch 1 begins at 0 ...
    await clock.advance(300);
    state.queued = false; // ... and is cut full at 300, without cancel()
    await clock.advance(100);
    state.queued = true;
    scheduler.arm(); // batch 2 begins at 400: the pending timer serves it
    expect(clock.pending).toBe(1);
    await clock.advance(600); // 1,000: the timer finds batch 2 young and waits out its interval
    expect(due()).toBe(0);
    expect(clock.delays).toEqual([1_000, 400]);
    await clock.advance(399);
    expect(due()).toBe(0);
    await clock.advance(1);
    expect(due()).toBe(1); // 1,400: batch 2's interval
    expect(clock.pending).toBe(0);
  });

  it('a timer that finds the queue empty ends there: no timer while idle', async () => {
    const { clock, scheduler, due, state } = rig(1_000);
    scheduler.arm();
    state.queued = false; // cut full
    await clock.advance(1_000);
    expect(due()).toBe(0);
    expect(clock.pending).toBe(0);
  });
});
