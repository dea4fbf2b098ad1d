# Reads one message from a STOMP destination with stomp.py and prints its
# headers and body as JSON: a consumer of the bus's topic that is not ours.
#   python3 read_topic.py HOST PORT DESTINATION
# It prints "subscribed" first, once the broker confirmed the subscription:
# a topic keeps nothing for a subscriber that is not there yet.
import json
import sys
import threading

import stomp

host, port, dest = sys.argv[1], int(sys.argv[2]), sys.argv[3]
subscribed = threading.Event()
got = threading.Event()


class Listener(stomp.ConnectionListener):
    def on_receipt(self, frame):
        if frame.headers.get("receipt-id") == "subscribed":
            subscribed.set()

    def on_message(self, frame):
        print(json.dumps({"headers": frame.headers, "body": frame.body}), flush=True)
        got.set()


conn = stomp.Connection12([(host, port)])
conn.set_listener("", Listener())
conn.connect(wait=True)
conn.subscribe(destination=dest, id="1", ack="auto", headers={"receipt": "subscribed"})
if not subscribed.wait(30):
    sys.exit("no receipt for SUBSCRIBE within 30 s")
print("subscribed", flush=True)
if not got.wait(60):
    sys.exit("no message within 60 s")
conn.disconnect()
