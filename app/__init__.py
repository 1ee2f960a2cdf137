"""stackeye.app: the assembly of the processes — the one place that knows the order of the stages.

Above every capability (collector, query, agent) and below the command line (cli).
"""
