"""A Sparkplug B host for tests/sparkplug.rs, built on pysparkplug (an independent
implementation): subscribes to spBv1.0/#, decodes every message with pysparkplug (DATA by the
aliases and datatypes of the birth before it) and prints one JSON line per message on stdout.
Reads commands as JSON lines on stdin: {"rebirth": true} publishes an NCMD
Node Control/Rebirth; {"raw_ncmd": "<hex>"} publishes raw bytes as an NCMD;
{"dcmd": {"device": D, "name": M, "value": S}} publishes a DCMD with String metric M = S.

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
        if "raw_ncmd" in cmd:
            client._client.publish(str(ncmd_topic), bytes.fromhex(cmd["raw_ncmd"]), qos=0)
    client.disconnect()


if __name__ == "__main__":
    main()
