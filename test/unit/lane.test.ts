import { describe, expect, it } from 'vitest';
import { PriorityLane, type Lane } from '../../src/dispatcher/lane';
import { settle } from './harness';

// The lane every build uses (Node's p-queue lane is gone: see PriorityLane's comment).
const create = (concurrency: number): Lane => new PriorityLane(concurrency);

/** Tasks that record their start and finish when released. */
function recorder() {
  const started: string[] = [];
  const releases = new Map<string, () => void>();
  const task = (name: string) => () =>
    new Promise<void>((resolve) => {
      started.push(name);
      releases.set(name, resolve);
    });
  const release = async (name: string) => {
    releases.get(name)!();
    await settle();
  };
  return { started, task, release };
}

describe('the lane (PriorityLane)', () => {
  it('never runs a task inside add(); at most `concurrency` run at once', async () => {
    const lane = create(2);
    const { started, task, release } = recorder();
    for (const n of ['a', 'b', 'c']) lane.add(task(n), 0);
    expect(started).toEqual([]);
    await settle();
    expect(started).toEqual(['a', 'b']);
    await release('a');
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('higher priorities first, equal priorities in the order added', async () => {
    const lane = create(1);
    const { started, task, release } = recorder();
    lane.add(task('first'), 0);
    await settle();
    for (const [n, p] of [['n1', 0], ['n2', 0], ['p1', 1], ['p2', 2], ['p2b', 2], ['n3', 0]] as const) lane.add(task(n), p);
    for (const n of ['first', 'p2', 'p2b', 'p1', 'n1', 'n2', 'n3']) {
      await settle();
      expect(started.at(-1)).toBe(n);
      await release(n);
    }
  });

  it('pause holds new starts, start resumes; clear forgets what has not started', async () => {
    const lane = create(1);
    const { started, task, release } = recorder();
    lane.pause();
    lane.add(task('a'), 0);
    lane.add(task('b'), 0);
    await settle();
    expect(started).toEqual([]);
    lane.start();
    await settle();
    expect(started).toEqual(['a']);
    lane.clear();
    await release('a');
    expect(started).toEqual(['a']);
    lane.add(task('c'), 0);
    await settle();
    expect(started).toEqual(['a', 'c']);
  });
});

describe('PriorityLane', () => {
  it('a task that rejects (against the contract) still frees its slot', async () => {
    const lane = new PriorityLane(1);
    const { started, task } = recorder();
    lane.add(() => Promise.reject(new Error('x')), 0);
    lane.add(task('after'), 0);
    await settle();
    await settle();
    expect(started).toEqual(['after']);
  });

  it('a long backlog drains in order, and a priority added after the head moved past 1024 goes next', async () => {
    const lane = new PriorityLane(1);
    const seen: number[] = [];
    let release: (() => void) | undefined;
    const gated = (i: number) => () =>
      new Promise<void>((resolve) => {
        seen.push(i);
        release = resolve;
      });
    for (let i = 0; i < 3_000; i++) lane.add(gated(i), 0);
    await settle();
    while (seen.length < 1_500) {
      release!();
      await settle();
    }
    lane.add(gated(-1), 5);
    while (seen.length < 3_001) {
      release!();
      await settle();
    }
    expect(seen.indexOf(-1)).toBe(1_500);
    expect(seen.filter((i) => i >= 0)).toEqual(Array.from({ length: 3_000 }, (_, i) => i));
  });

  it('one pump per burst of adds: all start in the order added once the task ends', async () => {
    const lane = new PriorityLane(3);
    const { started, task } = recorder();
    lane.add(task('a'), 0);
    lane.add(task('b'), 0);
    expect(started).toEqual([]);
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);
    lane.add(task('c'), 0);
    await Promise.resolve();
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('start() while running at capacity starts nothing more', async () => {
    const lane = new PriorityLane(1);
    const { started, task, release } = recorder();
    lane.add(task('a'), 0);
    lane.add(task('b'), 0);
    await settle();
    lane.start();
    expect(started).toEqual(['a']);
    await release('a');
    expect(started).toEqual(['a', 'b']);
  });

  it('resize: more slots start waiting tasks at once; fewer let running ones finish and start none until below', async () => {
    const lane = create(1);
    const { started, task, release } = recorder();
    for (const n of ['a', 'b', 'c', 'd']) lane.add(task(n), 0);
    await settle();
    expect(started).toEqual(['a']);
    lane.resize(3);
    expect(started).toEqual(['a', 'b', 'c']);
    lane.resize(1);
    await release('a');
    await release('b');
    expect(started).toEqual(['a', 'b', 'c']);
    await release('c');
    expect(started).toEqual(['a', 'b', 'c', 'd']);
  });
});
