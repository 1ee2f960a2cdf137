"""stackeye.agent.v1 requests for the fuzz tests and bench/fuzz.py: valid ones of every RPC (the
mutation seeds), the hostile strings that must round-trip through ``stackeye_agents`` exactly, and
the servicer context an in-process call needs (the one grpc hands a servicer, minus the network)."""
from __future__ import annotations

import random
import sys
from typing import Iterator

import grpc
from stackeye.proto.agent.v1 import agent_pb2

# quotes and backslashes (the SQL literal's escapes), NUL, control bytes, emoji, a lone "\\'" pair
HOSTILE_STRINGS = ("'", "\\", "\\'", "'); DROP TABLE stackeye_agents; --", "\x00", "a\x00b", "\n\r\t\x01\x7f",
                   "é€😀👩‍👩‍👧", "\\x00", "{{$}}", " ", "")
MEGABYTE_LABEL = "é😀'\\\x00" * ((1 << 20) // 9)  # 1 MB (UTF-8) of the worst characters

# rpc name -> (request type, response type)
RPCS = {"Register": (agent_pb2.RegisterRequest, agent_pb2.RegisterResponse),
        "Heartbeat": (agent_pb2.HeartbeatRequest, agent_pb2.HeartbeatResponse),
        "GetConfig": (agent_pb2.GetConfigRequest, agent_pb2.AgentConfig),
        "SetConfig": (agent_pb2.SetConfigRequest, agent_pb2.AgentConfig)}


def seeds(rpc: str) -> list[bytes]:
    """Valid serialized requests of ``rpc``, every field set."""
    out = []
    for i, agent_id in enumerate(("agent-1", "agent-2", "host-é😀")):
        if rpc == "Register":
            msg = agent_pb2.RegisterRequest(agent_id=agent_id, host_name=f"h{i}", host_id="mid", os_type="linux",
                                            version="1.0", collectors=["cpu", "memory"], labels={"env": "prod", "k": "v"})
        elif rpc == "Heartbeat":
            msg = agent_pb2.HeartbeatRequest(agent_id=agent_id, stats={"sent": 3.0, "queue_depth": 0.5},
                                             config_version=7 + i)
        elif rpc == "GetConfig":
            msg = agent_pb2.GetConfigRequest(agent_id=agent_id)
        else:
            msg = agent_pb2.SetConfigRequest(agent_id=agent_id if i else "", interval_seconds=5.0 + i,
                                             enabled_collectors=["cpu", "process"], replace_collectors=bool(i % 2))
        out.append(msg.SerializeToString())
    return out


ODD_DOUBLES = (0.0, -0.0, 0.5, 1.0, 30.0, -1.0, 1e308, 5e-324, float("nan"), float("inf"), -float("inf"))
ODD_INTS = (0, 1, -1, 2**63 - 1, -2**63)


def _text(rng: random.Random) -> str:
    pick = rng.randrange(6)
    if pick < 3:
        return rng.choice(HOSTILE_STRINGS)
    if pick == 3:  # any code point a protobuf string may hold (no lone surrogates)
        return "".join(chr(rng.choice((rng.randrange(0xD800), rng.randrange(0xE000, sys.maxunicode + 1))))
                       for _ in range(rng.randint(1, 40)))
    if pick == 4:
        return rng.choice(HOSTILE_STRINGS) * rng.randint(100, 2000)  # up to a few KB, sometimes over the id limit
    return f"agent-{rng.randrange(50)}"  # a small fleet: heartbeats meet registered agents


def _texts(rng: random.Random) -> list[str]:
    return [_text(rng) for _ in range(rng.randrange(6))]


def hostile_request(rng: random.Random, rpc: str):
    """A well-formed ``rpc`` request whose every field is hostile (the byte mutations mostly stop at
    protobuf's UTF-8 check; these reach the service)."""
    agent_id = _text(rng)
    if rpc == "Register":
        return agent_pb2.RegisterRequest(agent_id=agent_id, host_name=_text(rng), host_id=_text(rng), os_type=_text(rng),
                                         version=_text(rng), collectors=_texts(rng),
                                         labels={_text(rng): _text(rng) for _ in range(rng.randrange(6))})
    if rpc == "Heartbeat":
        return agent_pb2.HeartbeatRequest(agent_id=agent_id, config_version=rng.choice(ODD_INTS),
                                          stats={_text(rng): rng.choice(ODD_DOUBLES) for _ in range(rng.randrange(6))})
    if rpc == "GetConfig":
        return agent_pb2.GetConfigRequest(agent_id=agent_id)
    return agent_pb2.SetConfigRequest(agent_id=agent_id, interval_seconds=rng.choice(ODD_DOUBLES),
                                      enabled_collectors=_texts(rng), replace_collectors=rng.random() < 0.5)


def requests(rpc: str, count: int, seed: int = 0) -> Iterator[bytes]:
    """``count`` serialized ``rpc`` requests: byte mutations of the seeds and hostile well-formed
    ones, alternating."""
    from .mutate import mutations

    rng = random.Random(seed)
    mutated = mutations(seeds(rpc), count, seed=seed)
    for i in range(count):
        yield next(mutated) if i % 2 else hostile_request(rng, rpc).SerializeToString()


class Aborted(Exception):
    """What ``context.abort`` raises (grpc's own is internal to the server)."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(f"{code.name}: {details}")
        self.code, self.details = code, details


class CallContext:
    """The part of ``grpc.ServicerContext`` the AgentService uses."""

    def __init__(self, metadata: dict[str, str] | None = None):
        self.metadata = list((metadata or {}).items())

    def invocation_metadata(self):
        return self.metadata

    def abort(self, code: grpc.StatusCode, details: str):
        raise Aborted(code, details)
