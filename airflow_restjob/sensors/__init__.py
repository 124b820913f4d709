"""Sensors: wait for a remote job that something else started.

- ``step_functions.StepFunctionsExecutionSensor``: an existing Step Functions execution.
"""
