#!/usr/bin/env python3
"""A federated-learning client that behaves like the DLR FL Demonstrator's Python client (api.md §11),
for the end-to-end test with real PyTorch (PyTorchClientsIT).

Why it exists: the server must work with clients that really run torch, not only with Java test
code that uploads prepared files. This client does what the reference client does, with the
standard library plus torch and scikit-learn (all Debian packages):

* it runs an HTTP server of its own (loopback) for the server's notifications: it reads exactly
  ``Content-Length`` bytes (a request without one is answered 500, as the reference does), parses
  ``{"notification_type", "body", "training_uuid"}`` and answers ``TRAINING_START`` and
  ``TRAINING_FINISHED`` with 200, ``UPDATE_ROUND_START`` and ``MODEL_TEST_ROUND`` with 202, anything
  else or anything unparsable with 500;
* a training round downloads the global model (``GET {root}/api/models/{id}/``, Basic auth, only 200
  counts), loads it with ``torch.load``, trains a few epochs on its shard of the digits, saves the
  module with ``torch.jit.save`` and uploads it as multipart (``round``, ``sample_size``, ``owner``,
  file ``model_file``; only 201 counts);
* a test round downloads the global model, evaluates it on the shard's test part and posts
  ``accuracy`` and ``loss`` as ``application/x-www-form-urlencoded`` repeated
  ``metric_names``/``metric_values`` (only 201 counts).

The reference client starts a subprocess per notification; this one runs the work on one
background thread, in arrival order, which is the same as far as the server can see.

Everything is logged to ``DIR/client.log``; ``DIR/status.json`` is rewritten (atomically) after every
event with the notifications received, the uploads and metric reports with their HTTP status, and
any error, so that the Java test can check what happened and fail early on an error.

usage: fl_client.py --server ROOT --username U --password P --port N --shard I --shards K --dir DIR
                    [--user-id ID] [--epochs E] [--exit-on-stdin-eof] [--max-seconds S] [--stall-at-round R]
"""

import argparse
import base64
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import digits_data
import digits_model

TIMEOUT_SECONDS = 60

log = logging.getLogger("fl_client")


class ServerError(Exception):
    """The FL server answered something other than the one success status."""


class Status:
    """What happened so far, kept in memory and mirrored to status.json after every change."""

    def __init__(self, path, **identity):
        self._path = path
        self._lock = threading.Lock()
        self._data = dict(identity, ready=False, notifications=[], uploads=[], metrics=[], errors=[],
                          finished=False, stalled=False)
        self._write()

    def update(self, change):
        with self._lock:
            change(self._data)
            self._write()

    def append(self, key, entry):
        self.update(lambda d: d[key].append(entry))

    def _write(self):
        tmp = self._path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._data, f, indent=1)
        os.replace(tmp, self._path)


class FlServer:
    """The three calls a client makes to the FL server (api.md §11), with Basic authentication."""

    def __init__(self, root, username, password):
        self.root = root.rstrip("/")
        token = base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")
        self.authorization = "Basic " + token

    def download_model(self, model_id):
        data, status = self._request("GET", f"/api/models/{model_id}/")
        if status != 200:
            raise ServerError(f"GET model {model_id}: {status} {data[:500]!r}")
        return data

    def upload_update(self, model_id, model_bytes, round_, sample_size, owner):
        fields = [("round", str(round_)), ("sample_size", str(sample_size)), ("owner", str(owner))]
        body, content_type = multipart(fields, [("model_file", "model.pt", model_bytes)])
        data, status = self._request("POST", f"/api/models/{model_id}/", body, content_type)
        if status != 201:
            raise ServerError(f"POST update to {model_id}: {status} {data[:500]!r}")
        return status

    def upload_metrics(self, model_id, metrics):
        pairs = [("metric_names", k) for k in metrics] + [("metric_values", repr(v)) for v in metrics.values()]
        body = urllib.parse.urlencode(pairs).encode("ascii")
        data, status = self._request("POST", f"/api/models/{model_id}/metrics/", body,
                                     "application/x-www-form-urlencoded")
        if status != 201:
            raise ServerError(f"POST metrics to {model_id}: {status} {data[:500]!r}")
        return status

    def _request(self, method, path, body=None, content_type=None):
        request = urllib.request.Request(self.root + path, data=body, method=method)
        request.add_header("Authorization", self.authorization)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return response.read(), response.status
        except urllib.error.HTTPError as e:
            return e.read(), e.code


def multipart(fields, files):
    """A multipart/form-data body (as ``requests`` builds it for ``data=..., files=...``)."""
    boundary = "fl-client-" + uuid.uuid4().hex
    parts = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode("utf-8")
                     + value.encode("utf-8") + b"\r\n")
    for name, filename, content in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode("utf-8") + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Client:
    """The training side: one shard of the digits and the work of each round type."""

    def __init__(self, args, status):
        self.args = args
        self.status = status
        self.server = FlServer(args.server, args.username, args.password)
        (self.x_train, self.y_train), (self.x_test, self.y_test) = digits_data.shard(args.shard, args.shards)
        self.work = queue.Queue()
        threading.Thread(target=self._worker, name="work", daemon=True).start()

    def submit(self, job, *job_args):
        self.work.put((job, job_args))

    def _worker(self):
        while True:
            job, job_args = self.work.get()
            try:
                job(*job_args)
            except Exception as e:  # a failed round is reported, the client keeps serving
                log.error("%s failed: %s\n%s", job.__name__, e, traceback.format_exc())
                self.status.append("errors", f"{job.__name__}{job_args}: {e}")

    def train_round(self, training_id, round_, model_id):
        started = time.perf_counter()
        module = digits_model.load_module(self.server.download_model(model_id))
        loss = digits_model.train(module, self.x_train, self.y_train, epochs=self.args.epochs,
                                  seed=1000 * self.args.shard + round_)
        data = digits_model.save_module(module)
        seconds = time.perf_counter() - started
        status = self.server.upload_update(model_id, data, round_, len(self.y_train),
                                           self.args.user_id or self.args.username)
        log.info("round %d of training %s: trained on %d samples (last epoch loss %.4f) in %.2f s,"
                 " uploaded %d bytes: %d", round_, training_id, len(self.y_train), loss, seconds, len(data), status)
        self.status.append("uploads", {"training_uuid": training_id, "round": round_, "model_id": model_id,
                                       "status": status, "sample_size": len(self.y_train), "bytes": len(data),
                                       "train_loss": loss, "seconds": round(seconds, 3)})

    def test_round(self, training_id, round_, model_id):
        started = time.perf_counter()
        module = digits_model.load_module(self.server.download_model(model_id))
        result = digits_model.evaluate(module, self.x_test, self.y_test)
        seconds = time.perf_counter() - started
        status = self.server.upload_metrics(model_id, {"accuracy": result["accuracy"], "loss": result["loss"]})
        log.info("test round %d of training %s: accuracy %.4f, loss %.4f on %d samples: %d", round_,
                 training_id, result["accuracy"], result["loss"], result["samples"], status)
        self.status.append("metrics", dict(result, training_uuid=training_id, round=round_, model_id=model_id,
                                           status=status, seconds=round(seconds, 3)))


def handler_for(client, status):
    class NotificationHandler(BaseHTTPRequestHandler):
        """Answers the FL server's notifications like ``ClientServerHandler.do_POST`` of the reference."""

        def do_POST(self):
            try:
                answer = self._handle()
            except Exception as e:
                log.error("notification refused: %s", e)
                status.append("errors", f"notification refused: {e}")
                answer = 500
            self.send_response(answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _handle(self):
            length = self.headers.get("Content-Length")
            if length is None:
                raise ValueError("no Content-Length (chunked=%s)" % self.headers.get("Transfer-Encoding"))
            message = json.loads(self.rfile.read(int(length)))
            kind = message["notification_type"]
            training_id = str(uuid.UUID(message["training_uuid"]))
            body = message["body"]
            model_id = body.get("global_model_uuid") if isinstance(body, dict) else None
            round_ = body.get("round") if isinstance(body, dict) else None
            log.info("notification %s for training %s: %s", kind, training_id, json.dumps(body))
            if kind == "TRAINING_START":
                answer = 200
            elif kind == "UPDATE_ROUND_START":
                if client.args.stall_at_round is not None and int(round_) == client.args.stall_at_round:
                    # a fault for the tests: accepted like any round, then never worked on
                    log.info("stalling in round %d (--stall-at-round): no training, no upload", int(round_))
                    status.update(lambda d: d.update(stalled=True))
                else:
                    client.submit(client.train_round, training_id, int(round_), str(uuid.UUID(model_id)))
                answer = 202
            elif kind == "MODEL_TEST_ROUND":
                client.submit(client.test_round, training_id, int(round_), str(uuid.UUID(model_id)))
                answer = 202
            elif kind == "TRAINING_FINISHED":
                answer = 200
            else:
                raise ValueError(f"unknown notification type {kind!r}")
            entry = {"type": kind, "training_uuid": training_id, "round": round_, "global_model_uuid": model_id,
                     "answer": answer, "time": time.time()}

            def record(d):
                d["notifications"].append(entry)
                if kind == "TRAINING_FINISHED":
                    d["finished"] = True
            status.update(record)
            return answer

        def log_message(self, fmt, *fmt_args):
            log.info("http %s: %s", self.client_address[0], fmt % fmt_args)

    return NotificationHandler


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="server root, e.g. http://127.0.0.1:8080")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--user-id", help="sent as 'owner' with updates (the server ignores it)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--shard", type=int, required=True)
    parser.add_argument("--shards", type=int, required=True)
    parser.add_argument("--dir", required=True, help="folder for client.log and status.json")
    parser.add_argument("--epochs", type=int, default=digits_model.DEFAULT_EPOCHS)
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="exit when standard input closes (the parent process died)")
    parser.add_argument("--max-seconds", type=float, default=3600, help="exit after this long in any case")
    parser.add_argument("--stall-at-round", type=int,
                        help="a fault for the tests: accept UPDATE_ROUND_START of this round (202) but never train"
                             " or upload, as a client that hangs; the test then kills the process")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    logging.basicConfig(filename=os.path.join(args.dir, "client.log"), level=logging.INFO,
                        format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    digits_model.quiet_torch()
    status = Status(os.path.join(args.dir, "status.json"), username=args.username, shard=args.shard,
                    port=args.port, pid=os.getpid())
    client = Client(args, status)
    httpd = ThreadingHTTPServer((args.host, args.port), handler_for(client, status))
    httpd.daemon_threads = True

    def stop(reason):
        log.info("stopping: %s", reason)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, lambda *_: stop("SIGTERM"))
    if args.exit_on_stdin_eof:
        threading.Thread(target=lambda: (sys.stdin.read(), stop("standard input closed")), daemon=True).start()
    threading.Timer(args.max_seconds, stop, ["--max-seconds reached"]).start()

    log.info("client %s (shard %d of %d: %d training, %d test samples) listening on http://%s:%d/ for %s",
             args.username, args.shard, args.shards, len(client.y_train), len(client.y_test), args.host,
             args.port, args.server)
    status.update(lambda d: d.update(ready=True, train_samples=len(client.y_train), test_samples=len(client.y_test)))
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
    logging.shutdown()
    os._exit(0)  # the --max-seconds timer and the stdin reader must not keep the process alive


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
