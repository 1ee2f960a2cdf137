"""KEDA's external scaler (``externalscaler.ExternalScaler``), answered from stackeye's autoscale
decisions, so that a ScaledObject scales a workload to the replica count stackeye decides.

KEDA calls four methods with the trigger's ``metadata`` (docs/keda.md has a ScaledObject):

- ``GetMetricSpec`` → one metric, ``metricName`` (the metadata's ``metricName``, default
  ``stackeye-<service>-desired-replicas``) with **target size 1**;
- ``GetMetrics`` → that metric's value = **the decision's desired replicas**;
- ``IsActive`` → desired replicas > 0 (false lets KEDA scale to ``minReplicaCount``, zero included);
- ``StreamIsActive`` (trigger type ``external-push``) → the same answer at once, then again as
  soon as a re-check (every ``recheck_s`` seconds) finds it changed.

Why the HPA that KEDA creates lands on stackeye's number. For an external metric of type
``AverageValue`` (KEDA's default ``metricType``) the HPA computes::

    desiredReplicas = ceil(currentReplicas × (metricValue / currentReplicas) / target)
                    = ceil(metricValue / target) = ceil(desired / 1) = desired

so the current replica count cancels out. With ``metricType: Value`` it would compute
``ceil(currentReplicas × metricValue / target)`` — the current count multiplied in again — so the
trigger must keep the default. The HPA still applies its own tolerance (no change while
``|metricValue / (target × currentReplicas) − 1| ≤ 0.1``), its behavior (stabilization windows,
step policies; stackeye already applies HPA's, so docs/keda.md sets them to pass-through) and the
ScaledObject's ``minReplicaCount``/``maxReplicaCount``.

``decide(service) -> AutoscaleDecision`` is what the servicer asks (``stackeye up --policy FILE``
gives :func:`evaluator_decide` of its Evaluator); it raises :class:`UnknownService` when no policy
covers the service. Errors reach KEDA as gRPC statuses whose message names the fix: no
``service`` in the metadata → INVALID_ARGUMENT, a service without a policy → NOT_FOUND, an
evaluation that failed (storage down) → UNAVAILABLE (KEDA retries on its next poll).
"""
from __future__ import annotations

import logging
import re
import threading
from concurrent import futures
from typing import Callable, Iterator

import grpc
from stackeye.decisions.model import AutoscaleDecision
from stackeye.proto.keda import externalscaler_pb2 as pb
from stackeye.proto.keda import externalscaler_pb2_grpc as pb_grpc

log = logging.getLogger("stackeye.decisions.keda")

TARGET_SIZE = 1  # GetMetricSpec's target: the HPA divides our value by it (see the module docstring)
SERVICE_KEY = "service"  # trigger metadata: the service whose decision scales the workload
METRIC_KEY = "metricName"  # trigger metadata, optional: the metric's name in the HPA
_NOT_A_METRIC_CHAR = re.compile(r"[^A-Za-z0-9._-]+")

Decide = Callable[[str], AutoscaleDecision]


class UnknownService(LookupError):
    """``decide`` raises it when no autoscale policy covers the service; the message names the fix."""


def metric_name(service: str, metadata) -> str:
    """The metric's name: the metadata's ``metricName``, or ``stackeye-<service>-desired-replicas``."""
    given = metadata.get(METRIC_KEY, "").strip()
    return given or f"stackeye-{_NOT_A_METRIC_CHAR.sub('-', service)}-desired-replicas"


def is_active(decision: AutoscaleDecision) -> bool:
    return decision.desired_replicas > 0


def evaluator_decide(evaluator) -> Decide:
    """``decide`` from an :class:`~stackeye.decisions.evaluate.Evaluator`: the decision that
    ``stackeye decide autoscale --service S`` makes now. Read-only (``persist=False``): the
    scheduler of ``stackeye up --policy`` keeps the history, KEDA's polls do not move its windows.

    Only a service with its own ``[autoscale.<service>]`` table is answered: the evaluator would
    size any other one with the defaults, and a Deployment should not follow limits nobody wrote."""

    def decide(service: str) -> AutoscaleDecision:
        configured = evaluator.policies.keys("autoscale")
        if service not in configured:
            where = f" {evaluator.policies.path}" if evaluator.policies.path else " (stackeye up --policy FILE)"
            raise UnknownService(
                f"no autoscale policy for service {service!r}: add an [autoscale.{service}] table to the policy "
                f"file{where}, or name one of its services in the trigger's metadata (service: ...); "
                f"services with a policy: {', '.join(configured) or 'none'}")
        decisions = [d for d in evaluator.autoscale(service=service, persist=False) if d.service == service]
        if not decisions:
            raise RuntimeError(f"the autoscale policy returned no decision for {service!r}")
        return decisions[0]

    return decide


class ExternalScalerServicer(pb_grpc.ExternalScalerServicer):
    """The four methods of KEDA's external scaler over ``decide``."""

    def __init__(self, decide: Decide, recheck_s: float = 15.0):
        if recheck_s <= 0:
            raise ValueError(f"recheck_s must be positive, got {recheck_s!r}")
        self._decide = decide
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._streams: set[threading.Event] = set()
        self._closed = False

    def close(self) -> None:
        """End every StreamIsActive now (the server is stopping; KEDA reconnects to the next one)."""
        with self._lock:
            self._closed = True
            for wake in self._streams:
                wake.set()

    # -- the RPCs -----------------------------------------------------------------------------
    def IsActive(self, request: pb.ScaledObjectRef, context) -> pb.IsActiveResponse:
        return pb.IsActiveResponse(result=is_active(self._decision(request, context)))

    def StreamIsActive(self, request: pb.ScaledObjectRef, context) -> Iterator[pb.IsActiveResponse]:
        wake = threading.Event()
        context.add_callback(wake.set)  # the call ended (KEDA went away): stop waiting
        with self._lock:
            self._streams.add(wake)
        try:
            last = None
            while context.is_active() and not self._closed:
                active = is_active(self._decision(request, context))
                if active != last:
                    last = active
                    yield pb.IsActiveResponse(result=active)
                wake.wait(self.recheck_s)
        finally:
            with self._lock:
                self._streams.discard(wake)

    def GetMetricSpec(self, request: pb.ScaledObjectRef, context) -> pb.GetMetricSpecResponse:
        decision = self._decision(request, context)  # a service without a policy fails here, when KEDA sets up
        name = metric_name(decision.service, request.scalerMetadata)
        return pb.GetMetricSpecResponse(metricSpecs=[
            pb.MetricSpec(metricName=name, targetSize=TARGET_SIZE, targetSizeFloat=float(TARGET_SIZE))])

    def GetMetrics(self, request: pb.GetMetricsRequest, context) -> pb.GetMetricsResponse:
        ref = request.scaledObjectRef
        decision = self._decision(ref, context)
        name = request.metricName or metric_name(decision.service, ref.scalerMetadata)
        desired = decision.desired_replicas
        return pb.GetMetricsResponse(metricValues=[
            pb.MetricValue(metricName=name, metricValue=desired, metricValueFloat=float(desired))])

    # -- helpers ------------------------------------------------------------------------------
    def _decision(self, ref: pb.ScaledObjectRef, context) -> AutoscaleDecision:
        """The decision for the service the trigger names; aborts the call with a status naming the fix."""
        scaled = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name or "(unnamed)"
        service = ref.scalerMetadata.get(SERVICE_KEY, "").strip()
        if not service:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"ScaledObject {scaled}: the trigger's metadata names no service: add "
                          f"'{SERVICE_KEY}: <service.name>' under triggers[].metadata (docs/keda.md)")
        try:
            return self._decide(service)
        except UnknownService as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, f"ScaledObject {scaled}: {exc}")
        except Exception as exc:  # storage down, a query that failed: KEDA asks again on its next poll
            log.warning("KEDA scaler: cannot decide for %s (ScaledObject %s): %s", service, scaled, exc)
            context.abort(grpc.StatusCode.UNAVAILABLE,
                          f"ScaledObject {scaled}: stackeye could not evaluate the autoscale policy of "
                          f"{service!r}: {exc} (see stackeye up's log; KEDA retries on its next poll)")


class KedaScalerServer:
    """A gRPC server with only the external scaler on it (its own port: ``--keda-grpc``).

    Each StreamIsActive holds one worker thread for as long as KEDA keeps it open: ``max_workers``
    bounds the ScaledObjects of type ``external-push`` one server serves at a time."""

    def __init__(self, servicer: ExternalScalerServicer, address: str, max_workers: int = 64,
                 credentials: grpc.ServerCredentials | None = None):
        """``credentials``: TLS (:meth:`stackeye.core.tls.ServerTLS.grpc_credentials`); None: plaintext."""
        self.servicer = servicer
        self.address = address
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="keda-grpc"),
                                  options=[("grpc.so_reuseport", 0)])
        pb_grpc.add_ExternalScalerServicer_to_server(servicer, self.server)
        try:
            self.port = (self.server.add_secure_port(address, credentials) if credentials
                         else self.server.add_insecure_port(address))
        except RuntimeError:
            self.port = 0
        if self.port == 0:
            raise OSError(f"cannot listen for KEDA's external scaler on {address}: the address is in use "
                          "or invalid (--keda-grpc)")

    def start(self) -> None:
        self.server.start()
        log.info("KEDA external scaler listening on %s", self.address)

    def stop(self, grace: float = 5.0) -> None:
        self.servicer.close()
        self.server.stop(grace).wait()
