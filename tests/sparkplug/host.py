"""A Sparkplug B host for tests/sparkplug.rs, built on pysparkplug (an independent
implementation): subscribes to spBv1.0/#, decodes every message with pysparkplug (DATA by the
aliases and datatypes of the birth before it) and prints one JSON line per message on stdout.
Reads commands as JSON lines on stdin: {"rebirth": true} publishes an NCMD
Node Control/Rebirth; {"raw_ncmd": "<hex>"} publishes raw bytes as an NCMD;
{"dcmd": {"device": D, "name": M, "value": S}} publishes a DCMD with String metric M = S;
{"state": {"host": H, "online": B, "timestamp": T}} publishes the primary host's STATE
(spBv1.0/STATE/H, retained, QoS 1, the spec's JSON), as a primary host application does.

Usage: host.py PORT GROUP EDGE_NODE
"""

import json
import sys
import threading

import pysparkplug as spb


def metric_json(m):
    value = m.value
    if isinstance(value, bytes):
        value = value.hex()
    return {
        "name": m.name,
        "alias": m.alias,
        "datatype": m.datatype.name,
        "value": value,
        "is_null": bool(m.is_null),
        "is_historical": bool(m.is_historical),
    }


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    port, group, edge = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    client = spb.Client(client_id="spb-test-host")

    def on_message(_client, message):
        t = message.topic
        p = message.payload
        out = {
            "type": str(t.message_type),
            "edge": t.edge_node_id,
            "device": t.device_id,
        }
        if isinstance(p, spb.NDeath):
            out["bdseq"] = p.bd_seq_metric.value
            # The will's timestamp is from CONNECT time, a clean NDEATH's from the close.
            # pysparkplug 0.6.1 drops the payload timestamp of an NDEATH (an inverted HasField):
            # the bdSeq metric's own timestamp is the same time.
            out["timestamp"] = p.bd_seq_metric.timestamp
        else:
            out["seq"] = getattr(p, "seq", None)
            out["timestamp"] = p.timestamp
            metrics = [metric_json(m) for m in getattr(p, "metrics", ())]
            out["metrics"] = metrics
            for m in metrics:
                if m["name"] == "bdSeq":
                    out["bdseq"] = m["value"]
        emit(out)

    def on_connect(c):
        c.subscribe(spb.Topic(group_id=spb.MULTI_LEVEL_WILDCARD), spb.QoS.AT_LEAST_ONCE, on_message)

    # The host sees its own (deliberately malformed) NCMD too: paho logs what pysparkplug
    # cannot decode and goes on, as a host must.
    client._client.suppress_exceptions = True
    # pysparkplug exposes no SUBACK callback: paho's, so "ready" means subscribed.
    client._client.on_subscribe = lambda *_args: emit({"type": "ready"})
    client.connect("127.0.0.1", port=port, blocking=False, callback=on_connect)
    ncmd_topic = spb.Topic(message_type=spb.MessageType.NCMD, group_id=group, edge_node_id=edge)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("rebirth"):
            metric = spb.Metric(
                timestamp=spb.get_current_timestamp(),
                name="Node Control/Rebirth",
                datatype=spb.DataType.BOOLEAN,
                value=True,
            )
            payload = spb.NCmd(timestamp=spb.get_current_timestamp(), metrics=(metric,))
            client.publish(spb.Message(topic=ncmd_topic, payload=payload, qos=spb.QoS.AT_MOST_ONCE, retain=False), include_dtypes=True)
        if "dcmd" in cmd:
            d = cmd["dcmd"]
            topic = spb.Topic(message_type=spb.MessageType.DCMD, group_id=group, edge_node_id=edge, device_id=d["device"])
            metric = spb.Metric(
                timestamp=spb.get_current_timestamp(),
                name=d["name"],
                datatype=spb.DataType.STRING,
                value=d["value"],
            )
            payload = spb.DCmd(timestamp=spb.get_current_timestamp(), metrics=(metric,))
            client.publish(spb.Message(topic=topic, payload=payload, qos=spb.QoS.AT_MOST_ONCE, retain=False), include_dtypes=True)
        if "state" in cmd:
            st = cmd["state"]
            topic = spb.Topic(message_type=spb.MessageType.STATE, sparkplug_host_id=st["host"])
            body = json.dumps({"online": st["online"], "timestamp": st["timestamp"]})
            client._client.publish(str(topic), body.encode(), qos=1, retain=True).wait_for_publish()
            emit({"type": "state_sent", "timestamp": st["timestamp"]})
        if "raw_ncmd" in cmd:
            client._client.publish(str(ncmd_topic), bytes.fromhex(cmd["raw_ncmd"]), qos=0)
    client.disconnect()


if __name__ == "__main__":
    main()
