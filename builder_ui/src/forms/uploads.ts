/**
 * Uploads in progress on one form body, so that a submit never saves without a file the user
 * picked (issue 10, finding 8).
 *
 * Each `FormBody` owns an `UploadTracker` and provides it (with the top-level field an input sits
 * in) through `UploadContext`. File inputs hand every upload to `track()`: while one runs the
 * tracker is busy; an upload that fails stays as a failure at its field until the user removes
 * it. A submit first calls `flush()` (inputs holding unsent work, such as a drawn but unconfirmed
 * signature, start its upload), then `settled()`: it resolves once nothing is uploading any more
 * (uploads started meanwhile included) with the failures left, and the submit saves only when
 * there are none. `useUploadGate` is that submit step for a component that saves (the fill form
 * body, a grid cell edited in place).
 */
import { createContext, useContext, useEffect, useRef, useState, useSyncExternalStore } from "react";

/** An upload that did not succeed: shown at `field` (a top-level field key) until dismissed. */
export interface UploadFailure {
  id: string;
  field: string;
  name: string;
  message: string;
}

/** What the form shows: how many uploads run, and the failures at their fields. */
export interface UploadState {
  uploading: number;
  failures: UploadFailure[];
}

type Listener = () => void;

export class UploadTracker {
  private running = new Map<string, { field: string; name: string }>();
  private failed = new Map<string, UploadFailure>();
  private flushers = new Set<() => void>();
  private listeners = new Set<Listener>();
  private waiters: (() => void)[] = [];
  private state: UploadState = { uploading: 0, failures: [] };

  /** Follow `work` (an upload of `name` for `field`, known by `id`): busy until it settles, a
   * failure at the field when it rejects. Returns `work` itself. */
  track<T>(id: string, field: string, name: string, work: Promise<T>): Promise<T> {
    this.failed.delete(id);
    this.running.set(id, { field, name });
    this.changed();
    work.then(
      () => this.finish(id, null),
      (error: unknown) => this.finish(id, { id, field, name, message: error instanceof Error ? error.message : String(error) }),
    );
    return work;
  }

  /** Forget a failure (the user removed the file, or its input is gone). */
  dismiss(id: string): void {
    if (this.failed.delete(id)) this.changed();
  }

  /** Register what an input does when the form is submitted (start an upload it holds back);
   * returns the function that unregisters it. */
  onFlush(flush: () => void): () => void {
    this.flushers.add(flush);
    return () => this.flushers.delete(flush);
  }

  /** Ask every input to start the uploads it holds back (called on submit, before `settled`). */
  flush(): void {
    for (const flush of [...this.flushers]) flush();
  }

  get busy(): boolean {
    return this.running.size > 0;
  }

  /** Resolves when no upload runs (at once when none does) with the failures left at that moment. */
  settled(): Promise<UploadFailure[]> {
    if (!this.busy) return Promise.resolve([...this.failed.values()]);
    return new Promise((resolve) => this.waiters.push(() => resolve([...this.failed.values()])));
  }

  /** For `useSyncExternalStore`: the same object until something changes. */
  getSnapshot = (): UploadState => this.state;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private finish(id: string, failure: UploadFailure | null): void {
    if (!this.running.delete(id)) return;
    if (failure) this.failed.set(id, failure);
    this.changed();
    if (!this.busy) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    }
  }

  private changed(): void {
    this.state = { uploading: this.running.size, failures: [...this.failed.values()] };
    for (const listener of [...this.listeners]) listener();
  }
}

/** The tracker of the form an input is in, and the top-level field it belongs to (a subform's
 * key for inputs in its rows). Null outside a form body (e.g. the designer's preview). */
export interface UploadSlot {
  tracker: UploadTracker;
  field: string;
}

export const UploadContext = createContext<UploadSlot | null>(null);

export function useUploadSlot(): UploadSlot | null {
  return useContext(UploadContext);
}

let counter = 0;

/** A fresh id for one upload (unique in the page). */
export function uploadId(prefix = "upload"): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** What `useUploadGate().ready()` found: save now, don't (failures are shown at their fields), or
 * the wait was abandoned (cancelled, the form left, a newer submit) and nothing is to be done. */
export type GateResult = { ok: true } | { ok: false; failures: UploadFailure[] } | { ok: false; abandoned: true };

/** See `useUploadGate`. */
export interface UploadGate {
  tracker: UploadTracker;
  state: UploadState;
  waiting: boolean;
  ready(): Promise<GateResult>;
  cancel(): void;
}

/** The upload side of a save button: the tracker to provide to the inputs, its state, and
 * `ready()`, which starts held-back uploads and waits for every upload (`waiting` meanwhile, for
 * the button's 上传中…). `cancel()` drops a waiting save. */
export function useUploadGate(): UploadGate {
  const [tracker] = useState(() => new UploadTracker());
  const state = useSyncExternalStore(tracker.subscribe, tracker.getSnapshot);
  const [waiting, setWaiting] = useState(false);
  const attempt = useRef(0);
  useEffect(() => () => void (attempt.current += 1), []);

  async function ready(): Promise<GateResult> {
    const mine = ++attempt.current;
    tracker.flush();
    if (tracker.busy) setWaiting(true);
    const failures = await tracker.settled();
    if (attempt.current !== mine) return { ok: false, abandoned: true };
    setWaiting(false);
    return failures.length ? { ok: false, failures } : { ok: true };
  }

  function cancel() {
    attempt.current += 1;
    setWaiting(false);
  }

  return { tracker, state, waiting, ready, cancel };
}
