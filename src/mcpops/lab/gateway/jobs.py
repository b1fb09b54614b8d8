"""Background jobs: `index.discover` builds index/catalog.json after ONEC_MCP_DISCOVER_SECONDS."""

import os
import secrets
import threading
import time

from . import fsutil

ENTITIES = ("Catalog_Контрагенты", "Catalog_Номенклатура", "Document_РеализацияТоваровУслуг",
            "Document_ПоступлениеТоваровУслуг", "AccumulationRegister_ТоварыНаСкладах")


class Jobs:
    def __init__(self, store, discover_seconds, stop_event, release_file=""):
        self.store = store
        self.discover_seconds = discover_seconds
        self.release_file = release_file  # lab only: the job also ends once this file exists
        self.stop_event = stop_event
        self.lock = threading.Lock()
        self.jobs = []

    def list(self):
        with self.lock:
            return [dict(j) for j in reversed(self.jobs)]

    def running(self):
        with self.lock:
            return [dict(j) for j in self.jobs if j["state"] == "running"]

    def start_discover(self):
        with self.store.lock:  # not while a restore is swapping the data dir
            with self.lock:
                for job in self.jobs:
                    if job["kind"] == "index.discover" and job["state"] == "running":
                        return dict(job), False
                job = {"id": "job_" + secrets.token_hex(4), "kind": "index.discover", "state": "running",
                       "startedAt": fsutil.iso_s(), "finishedAt": None}
                self.jobs.append(job)
                del self.jobs[:-100]
        thread = threading.Thread(target=self._discover, args=(job,), name="discover-" + job["id"], daemon=True)
        thread.start()
        return dict(job), True

    def _wait_discover(self):
        """True when the gateway is stopping; False when the job's time is up (or the lab released it)."""
        if not self.release_file:
            return self.stop_event.wait(self.discover_seconds)
        deadline = time.monotonic() + self.discover_seconds
        while not os.path.exists(self.release_file):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self.stop_event.wait(min(remaining, 0.2)):
                return True
        return False

    def _discover(self, job):
        interrupted = self._wait_discover()
        state, error = "done", None
        if interrupted:
            state, error = "failed", "gateway stopping"
        else:
            try:
                with self.store.lock:
                    profiles = [p.get("name") for p in self.store.profiles]
                    index_dir = os.path.join(self.store.data_dir, "index")
                    os.makedirs(index_dir, exist_ok=True)
                    fsutil.atomic_write_json(os.path.join(index_dir, "catalog.json"), {
                        "generatedAt": fsutil.iso_s(), "jobId": job["id"],
                        "profiles": [{"name": n, "entities": list(ENTITIES)} for n in profiles]})
            except Exception as exc:  # report it on the job
                state, error = "failed", "%s: %s" % (exc.__class__.__name__, exc)
        with self.lock:
            job["state"] = state
            job["finishedAt"] = fsutil.iso_s()
            if error:
                job["error"] = error

    def last_failed(self):
        with self.lock:
            done = [j for j in self.jobs if j["state"] != "running"]
            return bool(done) and done[-1]["state"] == "failed" and done[-1].get("error") != "gateway stopping"
