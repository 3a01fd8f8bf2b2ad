#!/usr/bin/env python3
"""Every route of the API that takes a request body, called with Python ``requests`` over HTTP/1.1.

Why it exists: the DLR client and scripts written against the DLR API use ``requests``, which
speaks HTTP/1.1 only and sends bodies where the Java test client would not, e.g. the JSON body of
``DELETE /api/trainings/<id>/clients/`` or a body with a GET. Payara's HTTP layer refused such
requests with an empty 400 before the application saw them, and the Java tests (then over HTTP/2)
did not notice. This script is the user's view: real ``requests`` calls, JSON, url-encoded and
multipart bodies, POST, PUT and DELETE, a model written by torch itself, and a whole one-round
training driven through the notifications the server sends to a loopback endpoint.

Every answer must have come over HTTP/1.1 and, except a 204, carry JSON; each step prints one line.
The script exits 0 after ``SMOKE OK`` and 1 with the failing step otherwise.

usage: smoke_requests.py --server ROOT --member-token TOKEN --group-id ID --dir DIR
  ROOT          the server, e.g. http://localhost:8080
  TOKEN, ID     a user who is a member of group ID (membership cannot be given through the API)
  DIR           a folder for the model files
"""

import argparse
import json
import os
import queue
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import torch

TIMEOUT = 60
NOTIFICATION_WAIT = 120


class Failure(Exception):
    pass


def check(response, status, what):
    """The answer has the expected status, came over HTTP/1.1 and (unless 204) is JSON; returns it."""
    if response.raw.version != 11:
        raise Failure(f"{what}: answered over HTTP version {response.raw.version}, not 1.1")
    if response.status_code != status:
        raise Failure(f"{what}: expected {status}, got {response.status_code} {response.text!r}")
    if status == 204:
        if response.content:
            raise Failure(f"{what}: 204 with a body {response.text!r}")
        print(f"ok  {response.request.method} {response.request.path_url} -> {status} ({what})", flush=True)
        return None
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        raise Failure(f"{what}: not JSON: {response.headers.get('Content-Type')} {response.text!r}")
    body = response.json()
    print(f"ok  {response.request.method} {response.request.path_url} -> {status} ({what})", flush=True)
    return body


def expect(condition, message):
    if not condition:
        raise Failure(message)


class Notifications:
    """A participant's notification endpoint on loopback: answers 200 and queues what arrived."""

    def __init__(self):
        received = self.received = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                received.put(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def wait_for(self, notification_type):
        while True:
            try:
                n = self.received.get(timeout=NOTIFICATION_WAIT)
            except queue.Empty:
                raise Failure(f"no {notification_type} notification within {NOTIFICATION_WAIT} s")
            print(f"    notification {n['notification_type']} {n.get('body')}", flush=True)
            if n["notification_type"] == notification_type:
                return n


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--member-token", required=True)
    p.add_argument("--group-id", required=True, type=int)
    p.add_argument("--dir", required=True)
    args = p.parse_args()
    api = args.server.rstrip("/") + "/api"
    suffix = uuid.uuid4().hex[:8]
    s = requests.Session()

    # users: sign-up as JSON and url-encoded
    bob_endpoint = Notifications()
    alice = check(s.post(f"{api}/users/", json={"username": f"alice-{suffix}", "password": "alice-pw",
                                                 "actor": True}, timeout=TIMEOUT), 201, "sign-up, JSON")
    bob = check(s.post(f"{api}/users/", json={"username": f"bob-{suffix}", "password": "bob-pw", "client": True,
                                               "message_endpoint": bob_endpoint.url}, timeout=TIMEOUT),
                201, "sign-up of a participant, JSON")
    carol = check(s.post(f"{api}/users/", data={"username": f"carol-{suffix}", "password": "carol-pw"},
                         timeout=TIMEOUT), 201, "sign-up, url-encoded")
    expect(carol["username"] == f"carol-{suffix}", f"carol: {carol}")
    as_alice = {"Authorization": "Token " + alice["token"]}
    as_bob = {"Authorization": "Token " + bob["token"]}
    me = check(s.get(f"{api}/users/myself/", auth=(f"bob-{suffix}", "bob-pw"), timeout=TIMEOUT), 200, "Basic auth")
    expect(me["id"] == bob["id"], f"myself: {me}")

    # a GET with a body: the body is ignored, the answer is the same as without one
    plain = check(s.get(f"{api}/users/myself/", headers=as_alice, timeout=TIMEOUT), 200, "GET")
    with_body = check(s.get(f"{api}/users/myself/", headers=as_alice, json={"ignored": True}, timeout=TIMEOUT),
                      200, "GET with a JSON body")
    expect(plain == with_body, f"GET with a body answered {with_body}, without {plain}")

    # groups: create as JSON and url-encoded; a member renames (PUT, JSON) and deletes (DELETE, with a body)
    g1 = check(s.post(f"{api}/groups/", headers=as_alice, json={"name": f"g-json-{suffix}"}, timeout=TIMEOUT),
               201, "group, JSON")
    expect(g1["name"] == f"g-json-{suffix}", f"group: {g1}")
    g2 = check(s.post(f"{api}/groups/", headers=as_alice, data={"name": f"g-form-{suffix}"}, timeout=TIMEOUT),
               201, "group, url-encoded")
    expect(g2["name"] == f"g-form-{suffix}", f"group: {g2}")
    not_member = check(s.put(f"{api}/groups/{g1['id']}/", headers=as_alice, json={"name": "x"}, timeout=TIMEOUT),
                       403, "PUT on a group by a non-member")
    expect(not_member == {"detail": "You are not allowed to access this group."}, f"{not_member}")
    as_member = {"Authorization": "Token " + args.member_token}
    group = f"{api}/groups/{args.group_id}/"
    renamed = check(s.put(group, headers=as_member, json={"name": f"renamed-{suffix}"}, timeout=TIMEOUT),
                    200, "PUT on a group, JSON")
    expect(renamed == {"id": args.group_id, "name": f"renamed-{suffix}"}, f"renamed: {renamed}")
    check(s.delete(group, headers=as_member, json={"ignored": True}, timeout=TIMEOUT), 204,
          "DELETE of a group with a body")

    # a model written by torch itself, uploaded as multipart
    torch.manual_seed(0)
    initial = os.path.join(args.dir, "initial.pt")
    torch.jit.save(torch.jit.script(Net()), initial)
    with open(initial, "rb") as f:
        model = check(s.post(f"{api}/models/", headers=as_alice,
                             data={"name": f"smoke-{suffix}", "description": "one linear layer",
                                   "input_shape": ["None", "8"]},
                             files={"model_file": ("initial.pt", f)}, timeout=TIMEOUT), 201, "model upload, multipart")
    model_id = model["model_id"]
    expect(model["detail"] == "Model Upload Accepted", f"{model}")

    # trainings: create (JSON), add participants (PUT, JSON), remove one (DELETE with a JSON body), start
    training = check(s.post(f"{api}/trainings/", headers=as_alice,
                            json={"model_id": model_id, "target_num_updates": 1, "metric_names": ["accuracy"],
                                  "aggregation_method": "FedAvg", "clients": []}, timeout=TIMEOUT),
                     201, "training, JSON")
    training_id = training["training_id"]
    clients = f"{api}/trainings/{training_id}/clients/"
    added = check(s.put(clients, headers=as_alice, json={"clients": [bob["id"], carol["id"]]}, timeout=TIMEOUT),
                  202, "participants added, PUT with JSON")
    expect(added == {"detail": "Users registered as participants!"}, f"{added}")
    t = check(s.get(f"{api}/trainings/{training_id}/", headers=as_alice, timeout=TIMEOUT), 200, "training")
    expect(sorted(t["participants"]) == sorted([bob["id"], carol["id"]]), f"participants after PUT: {t}")
    refused = check(s.delete(clients, headers=as_bob, json={"clients": [carol["id"]]}, timeout=TIMEOUT),
                    403, "participants removed by a participant, DELETE with JSON")
    expect(refused == {"detail": "You do not have permission to perform this action."}, f"{refused}")
    bad = check(s.delete(clients, headers=as_alice, json={"clients": [1]}, timeout=TIMEOUT),
                400, "participants removed with a bad body, DELETE with JSON")
    expect(bad == {"clients": {"0": ["Not a valid UUID."]}}, f"{bad}")
    removed = check(s.delete(clients, headers=as_alice, json={"clients": [carol["id"]]}, timeout=TIMEOUT),
                    200, "participants removed, DELETE with JSON")
    expect(removed == {"detail": "Users removed from training participants!"}, f"{removed}")
    t = check(s.get(f"{api}/trainings/{training_id}/", headers=as_alice, json={"ignored": True},
                    timeout=TIMEOUT), 200, "training, GET with a JSON body")
    expect(t["participants"] == [bob["id"]], f"participants after DELETE: {t}")
    expect(t["state"] == "I", f"state before start: {t}")
    started = check(s.post(f"{api}/trainings/{training_id}/start/", headers=as_alice, timeout=TIMEOUT),
                    202, "start")
    expect(started == {"detail": "Training started!"}, f"{started}")

    # bob trains: the round-start notification, the download, the local update (multipart)
    round_start = bob_endpoint.wait_for("UPDATE_ROUND_START")
    expect(round_start["body"] == {"round": 0, "global_model_uuid": model_id}, f"{round_start}")
    download = s.get(f"{api}/models/{model_id}/", headers=as_bob, timeout=TIMEOUT)
    expect(download.status_code == 200 and download.raw.version == 11, f"download: {download.status_code}")
    global_file = os.path.join(args.dir, "global.pt")
    with open(global_file, "wb") as f:
        f.write(download.content)
    local = torch.jit.load(global_file)
    with torch.no_grad():
        for parameter in local.parameters():
            parameter.add_(0.5)
    update = os.path.join(args.dir, "update.pt")
    torch.jit.save(local, update)
    with open(update, "rb") as f:
        accepted = check(s.post(f"{api}/models/{model_id}/", headers=as_bob,
                                data={"round": "0", "sample_size": "10", "owner": bob["id"]},
                                files={"model_file": ("update.pt", f)}, timeout=TIMEOUT),
                         201, "local update, multipart")
    expect(accepted == {"detail": "Model Update Accepted"}, f"{accepted}")

    # the aggregated model is tested: metrics, url-encoded
    test_round = bob_endpoint.wait_for("MODEL_TEST_ROUND")
    expect(test_round["body"] == {"round": 1, "global_model_uuid": model_id}, f"{test_round}")
    metrics = check(s.post(f"{api}/models/{model_id}/metrics/", headers=as_bob,
                           data={"metric_names": ["accuracy"], "metric_values": ["0.75"]}, timeout=TIMEOUT),
                    201, "metrics, url-encoded")
    expect(metrics == {"detail": "Model Metrics Upload Accepted", "model_id": model_id}, f"{metrics}")
    bob_endpoint.wait_for("TRAINING_FINISHED")
    t = check(s.get(f"{api}/trainings/{training_id}/", headers=as_alice, timeout=TIMEOUT), 200, "training")
    expect(t["state"] == "C", f"state after the round: {t}")

    # inference on the aggregated model, JSON and multipart (the input a torch.save'd tensor)
    x = torch.rand(2, 8)
    with torch.no_grad():
        # bob's update was the round's only one, so the aggregated global model computes what it does
        expected = torch.argmax(torch.jit.load(update)(x), dim=1).tolist()
    inferred = check(s.post(f"{api}/inference/", headers=as_alice,
                            json={"model_id": model_id, "model_input": x.tolist()}, timeout=TIMEOUT),
                     200, "inference, JSON")
    expect(inferred == {"inference": expected, "uncertainty": {}}, f"inference {inferred}, expected {expected}")
    tensor_file = os.path.join(args.dir, "input.pt")
    torch.save(x, tensor_file)
    with open(tensor_file, "rb") as f:
        inferred = check(s.post(f"{api}/inference/", headers=as_alice,
                                data={"model_id": model_id, "return_format": "json"},
                                files={"model_input": ("input.pt", f)}, timeout=TIMEOUT),
                         200, "inference, multipart")
    expect(inferred == {"inference": expected, "uncertainty": {}}, f"inference {inferred}, expected {expected}")

    print("SMOKE OK", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAILED: {e}", flush=True)
        sys.exit(1)
