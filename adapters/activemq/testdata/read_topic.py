# Reads one message from a STOMP destination with stomp.py and prints its
# headers and body as JSON: a consumer of the bus's topic that is not ours.
#   python3 read_topic.py HOST PORT DESTINATION
import json
import sys
import threading

import stomp

host, port, dest = sys.argv[1], int(sys.argv[2]), sys.argv[3]
got = threading.Event()


class Listener(stomp.ConnectionListener):
    def on_message(self, frame):
        print(json.dumps({"headers": frame.headers, "body": frame.body}), flush=True)
        got.set()


conn = stomp.Connection12([(host, port)])
conn.set_listener("", Listener())
conn.connect(wait=True)
conn.subscribe(destination=dest, id="1", ack="auto", headers={"receipt": "subscribed"})
# The receipt says the broker has the subscription: a topic keeps nothing
# for a subscriber that is not there yet.
done = threading.Event()


class Receipts(stomp.ConnectionListener):
    def on_receipt(self, frame):
        if frame.headers.get("receipt-id") == "subscribed":
            done.set()


conn.set_listener("receipts", Receipts())
if not done.wait(30):
    sys.exit("no receipt for SUBSCRIBE")
print("subscribed", flush=True)
if not got.wait(60):
    sys.exit("no message within 60 s")
conn.disconnect()
