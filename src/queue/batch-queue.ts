import type { OdpWireEvent } from '../types';

/**
 * Accepted events that are not yet part of a batch. It holds less than one batch: the client
 * cuts a batch as soon as it is full, so the dispatcher holds the backlog.
 */
export class BatchQueue {
  private events: OdpWireEvent[] = [];

  get length(): number {
    return this.events.length;
  }

  /** Adds an event; returns the new length. */
  push(event: OdpWireEvent): number {
    return this.events.push(event);
  }

  /** The queued events, not to be changed (what a journal stores of the partial batch). */
  peek(): readonly OdpWireEvent[] {
    return this.events;
  }

  /** Removes and returns every queued event. */
  take(): OdpWireEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }
}
