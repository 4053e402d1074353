"""The local stack: real Kafka (KRaft), DynamoDB Local and a Flink session cluster as background processes.

``manager.Stack`` starts, stops and reports them; ``process.ManagedProcess`` is the reusable piece
(command, environment, pid file, log file, readiness check) that also runs the endpoint and the
handler runners in the background.
"""

from fraudstream.stack.errors import StackError

__all__ = ["StackError"]
