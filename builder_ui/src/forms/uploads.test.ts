import { describe, expect, it } from "vitest";
import { UploadTracker, uploadId } from "./uploads";

/** A promise the test settles by hand (an upload in flight). */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** Let every pending promise callback run. */
const drain = () => new Promise((done) => setTimeout(done, 0));

describe("UploadTracker", () => {
  it("settles at once when nothing uploads", async () => {
    const tracker = new UploadTracker();
    expect(tracker.busy).toBe(false);
    await expect(tracker.settled()).resolves.toEqual([]);
  });

  it("makes a submit wait until the upload is in the value, then sends it", async () => {
    // The fill page's race: a file is picked and 提交 pressed while it goes up.
    const tracker = new UploadTracker();
    let values: Record<string, unknown> = { title: "拜访" };
    const upload = deferred<{ file_id: number }>();
    tracker.track(
      "u1",
      "report",
      "拜访报告.pdf",
      upload.promise.then((ref) => {
        values = { ...values, report: [ref] };
        return ref;
      }),
    );
    expect(tracker.busy).toBe(true);
    expect(tracker.getSnapshot()).toEqual({ uploading: 1, failures: [] });

    const sent: Record<string, unknown>[] = [];
    const submit = tracker.settled().then((failures) => {
      if (!failures.length) sent.push(values);
    });
    await drain();
    expect(sent).toEqual([]); // nothing is saved while the file is going up
    upload.resolve({ file_id: 7 });
    await submit;
    expect(sent).toEqual([{ title: "拜访", report: [{ file_id: 7 }] }]);
    expect(tracker.busy).toBe(false);
  });

  it("waits for uploads that start while it waits", async () => {
    const tracker = new UploadTracker();
    const first = deferred<number>();
    const second = deferred<number>();
    tracker.track("a", "report", "a.pdf", first.promise);
    let done = false;
    const waiting = tracker.settled().then(() => (done = true));
    tracker.track("b", "photo", "b.png", second.promise);
    first.resolve(1);
    await drain();
    expect(done).toBe(false);
    second.resolve(2);
    await waiting;
    expect(done).toBe(true);
  });

  it("keeps a failed upload at its field until it is dismissed", async () => {
    const tracker = new UploadTracker();
    const upload = deferred<number>();
    tracker.track("u1", "report", "big.pdf", upload.promise).catch(() => undefined);
    const waiting = tracker.settled();
    upload.reject(new Error("文件太大"));
    const failures = await waiting;
    expect(failures).toEqual([{ id: "u1", field: "report", name: "big.pdf", message: "文件太大" }]);
    // A later submit is still refused: the file the user picked is not in the record.
    await expect(tracker.settled()).resolves.toHaveLength(1);
    expect(tracker.getSnapshot().failures.map((f) => f.field)).toEqual(["report"]);
    tracker.dismiss("u1");
    await expect(tracker.settled()).resolves.toEqual([]);
  });

  it("forgets an earlier failure when the same upload is tried again", async () => {
    const tracker = new UploadTracker();
    const failing = deferred<number>();
    tracker.track("sig", "sign", "签名", failing.promise).catch(() => undefined);
    failing.reject(new Error("网络错误"));
    await drain();
    expect(tracker.getSnapshot().failures).toHaveLength(1);
    const retry = deferred<number>();
    tracker.track("sig", "sign", "签名", retry.promise);
    expect(tracker.getSnapshot()).toEqual({ uploading: 1, failures: [] });
    retry.resolve(3);
    await expect(tracker.settled()).resolves.toEqual([]);
  });

  it("asks inputs to start the uploads they hold back when the form is submitted", async () => {
    const tracker = new UploadTracker();
    const upload = deferred<number>();
    let started = 0;
    const off = tracker.onFlush(() => {
      started += 1;
      tracker.track("sig", "sign", "签名", upload.promise);
    });
    tracker.flush();
    expect(started).toBe(1);
    expect(tracker.busy).toBe(true);
    upload.resolve(1);
    await tracker.settled();
    off();
    tracker.flush();
    expect(started).toBe(1);
  });

  it("tells subscribers of each change with a new snapshot, and the same one otherwise", async () => {
    const tracker = new UploadTracker();
    const seen: number[] = [];
    const off = tracker.subscribe(() => seen.push(tracker.getSnapshot().uploading));
    const before = tracker.getSnapshot();
    expect(tracker.getSnapshot()).toBe(before);
    const upload = deferred<number>();
    tracker.track("u", "report", "a.pdf", upload.promise);
    expect(tracker.getSnapshot()).not.toBe(before);
    upload.resolve(1);
    await tracker.settled();
    tracker.dismiss("unknown"); // nothing to forget: no change
    off();
    expect(seen).toEqual([1, 0]);
  });

  it("gives every upload its own id", () => {
    expect(uploadId()).not.toBe(uploadId());
  });
});
