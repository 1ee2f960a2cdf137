"""Decisions: what the aggregates say to do — how many replicas each service needs (autoscale) and
how a gateway should route to an upstream set (weights, ejection, circuit breaking).

A policy is a pure function of input rows (:mod:`stackeye.decisions.model`), its settings and the
state the previous evaluation left; the evaluator, scheduler, API and CLI only feed it.
"""
