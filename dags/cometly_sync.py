"""Airflow DAGs: per-plan syncs (hobby every 6 h, pro every 3 h, ultra every hour) and Sync Now.

Wiring only: the steps live in include/cometly_elt (dag_factory.py, sync.py).
"""

from cometly_elt.dag_factory import plan_dag, sync_now_dag

cometly_sync_hobby = plan_dag("hobby")
cometly_sync_pro = plan_dag("pro")
cometly_sync_ultra = plan_dag("ultra")
cometly_sync_now = sync_now_dag()
