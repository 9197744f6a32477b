"""Airflow DAG: backfill a campaign's new result metric (`cometly-elt results set`).

Wiring only: the steps live in include/cometly_elt (dag_factory.py, result_backfill.py).
"""

from cometly_elt.dag_factory import result_backfill_dag

cometly_result_backfill = result_backfill_dag()
