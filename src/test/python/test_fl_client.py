"""Checks of the Python client against a stand-in FL server, without fl-server.

Why: when the end-to-end test fails, it must be clear whether the client or the server is at fault.
These tests pin down the client's side of the contract (api.md §8, §11) on its own: the answers to
each notification, the refusal of a request without Content-Length, and the exact requests of a
training round (multipart update with round, sample_size, owner and a TorchScript model_file) and
of a test round (form-encoded metrics). The stand-in serves the initial model and records what it
receives. PyTorchClientsIT runs them (``python3 -m unittest`` in this folder).
"""

import email.parser
import email.policy
import http.client
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

import digits_data

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_ID = str(uuid.uuid4())
TRAINING_ID = str(uuid.uuid4())


class StandIn(BaseHTTPRequestHandler):
    """Serves the model and records updates and metrics, answering what fl-server answers on success."""

    model = b""
    received = []

    def do_GET(self):
        if self.path != f"/api/models/{MODEL_ID}/":
            return self._answer(400, b'{"detail": "unknown"}')
        self.received.append(("GET", self.path, self.headers.get("Authorization"), None))
        self._answer(200, self.model, "application/octet-stream")

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(("POST", self.path, self.headers.get("Authorization"),
                              (self.headers.get("Content-Type"), body)))
        self._answer(201, b'{"detail": "accepted"}')

    def _answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClientAgainstStandIn(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        initial = os.path.join(cls.tmp.name, "initial.pt")
        subprocess.run([sys.executable, os.path.join(HERE, "make_initial_model.py"), initial], check=True)
        with open(initial, "rb") as f:
            StandIn.model = f.read()
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.port = free_port()
        cls.dir = os.path.join(cls.tmp.name, "client")
        cls.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fl_client.py"), "--server",
             f"http://127.0.0.1:{cls.server.server_address[1]}", "--username", "site-a", "--password", "secret",
             "--user-id", "owner-id", "--port", str(cls.port), "--shard", "1", "--shards", "3",
             "--dir", cls.dir, "--epochs", "1", "--exit-on-stdin-eof", "--max-seconds", "120"],
            stdin=subprocess.PIPE)
        cls.wait_for(lambda s: s["ready"])

    @classmethod
    def tearDownClass(cls):
        cls.process.stdin.close()  # the client exits when its standard input closes
        try:
            cls.process.wait(10)
        finally:
            if cls.process.poll() is None:
                cls.process.kill()
            cls.server.shutdown()
            cls.tmp.cleanup()

    @classmethod
    def status(cls):
        try:
            with open(os.path.join(cls.dir, "status.json"), encoding="utf-8") as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    @classmethod
    def wait_for(cls, condition, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            s = cls.status()
            if s is not None and condition(s):
                return s
            if cls.process.poll() is not None:
                raise AssertionError(f"client exited with {cls.process.returncode}")
            time.sleep(0.05)
        raise AssertionError(f"timed out; status: {cls.status()}")

    def notify(self, kind, body, chunked=False, training=TRAINING_ID):
        payload = json.dumps({"notification_type": kind, "body": body, "training_uuid": training}).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            if chunked:
                conn.putrequest("POST", "/")
                conn.putheader("Content-Type", "application/json")
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload))
            else:
                conn.request("POST", "/", payload, {"Content-Type": "application/json"})
            return conn.getresponse().status
        finally:
            conn.close()

    def test_answers_like_the_reference_client(self):
        self.assertEqual(200, self.notify("TRAINING_START", {"global_model_uuid": MODEL_ID}))
        self.assertEqual(200, self.notify("TRAINING_FINISHED", {"global_model_uuid": MODEL_ID}))
        self.assertEqual(500, self.notify("SWAG_ROUND_START", {"round": 1, "global_model_uuid": MODEL_ID}))
        self.assertEqual(500, self.notify("TRAINING_START", {"global_model_uuid": MODEL_ID}, chunked=True))
        self.assertEqual(500, self.notify("TRAINING_START", {"global_model_uuid": MODEL_ID}, training="x"))
        kinds = [n["type"] for n in self.status()["notifications"]]
        self.assertIn("TRAINING_START", kinds)
        self.assertIn("TRAINING_FINISHED", kinds)
        self.assertNotIn("SWAG_ROUND_START", kinds)

    def test_training_round_uploads_a_torchscript_update(self):
        StandIn.received.clear()
        before = self.status()
        self.assertEqual(202, self.notify("UPDATE_ROUND_START", {"round": 0, "global_model_uuid": MODEL_ID}))
        status = self.wait_for(lambda s: len(s["uploads"]) > len(before["uploads"])
                               or len(s["errors"]) > len(before["errors"]))
        self.assertEqual(before["errors"], status["errors"])
        (get, post) = StandIn.received
        self.assertEqual(("GET", f"/api/models/{MODEL_ID}/", "Basic c2l0ZS1hOnNlY3JldA=="), get[:3])
        self.assertEqual(("POST", f"/api/models/{MODEL_ID}/", "Basic c2l0ZS1hOnNlY3JldA=="), post[:3])
        content_type, body = post[3]
        self.assertTrue(content_type.startswith("multipart/form-data; boundary="), content_type)
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        self.assertEqual({"round", "sample_size", "owner", "model_file"}, set(parts))
        (train_x, train_y), _ = digits_data.shard(1, 3)
        self.assertEqual("0", parts["round"].get_content().strip())
        self.assertEqual(str(len(train_y)), parts["sample_size"].get_content().strip())
        self.assertEqual("owner-id", parts["owner"].get_content().strip())
        update = parts["model_file"].get_payload(decode=True)
        self.assertEqual(b"PK\x03\x04", update[:4])
        self.assertTrue(any(n.endswith("/code/__torch__.py") for n in zipfile.ZipFile(io.BytesIO(update)).namelist()))
        trained = torch.jit.load(io.BytesIO(update))
        initial = torch.jit.load(io.BytesIO(StandIn.model))
        self.assertEqual(initial.state_dict().keys(), trained.state_dict().keys())
        self.assertFalse(torch.equal(initial.state_dict()["hidden.weight"], trained.state_dict()["hidden.weight"]))

    def test_test_round_posts_form_encoded_metrics(self):
        StandIn.received.clear()
        before = self.status()
        self.assertEqual(202, self.notify("MODEL_TEST_ROUND", {"round": 1, "global_model_uuid": MODEL_ID}))
        status = self.wait_for(lambda s: len(s["metrics"]) > len(before["metrics"])
                               or len(s["errors"]) > len(before["errors"]))
        self.assertEqual(before["errors"], status["errors"])
        post = StandIn.received[-1]
        self.assertEqual(("POST", f"/api/models/{MODEL_ID}/metrics/"), post[:2])
        content_type, body = post[3]
        self.assertEqual("application/x-www-form-urlencoded", content_type)
        fields = urllib.parse.parse_qs(body.decode("ascii"))
        self.assertEqual(["accuracy", "loss"], fields["metric_names"])
        accuracy, loss = (float(v) for v in fields["metric_values"])
        self.assertTrue(0.0 <= accuracy <= 1.0)
        self.assertGreater(loss, 0.0)
        self.assertEqual(status["metrics"][-1]["accuracy"], accuracy)


if __name__ == "__main__":
    unittest.main()
