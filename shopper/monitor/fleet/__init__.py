"""Scale-out: monitors enqueue scheduled runs in PostgreSQL, workers on any machine call them.

procrastinate (pinned exactly) is the job queue; shopper keeps its own tables beside it in the
same database: which runs were enqueued (unique by run id, so any number of monitors enqueue
each scheduled run once, with no leader), each call attempt and the carrier leg to hang up if
its worker dies, and every run's result, the fleet's shared history that monitors follow.
"""
