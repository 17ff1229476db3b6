"""Gives each new database connection of the MLflow server a fresh RDS IAM authentication token.

MLflow builds its SQLAlchemy engine from a fixed URI (`postgresql://mlflow@host:port/db`, no password). An IAM token
opens connections for 15 minutes only, so instead of a password in the URI this hook asks boto3 for a token (signed with
the task role's credentials) every time the pool opens a connection. Python imports this module at start from
PYTHONPATH; it does something only when MLFLOW_DB_IAM_AUTH=1 (set by the server's command, which the gunicorn workers
inherit), so other Python processes in the image (the health check) do not load SQLAlchemy or boto3.
"""
import os

if os.environ.get("MLFLOW_DB_IAM_AUTH") == "1":
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _clients = {}

    @event.listens_for(Engine, "do_connect")
    def _iam_token(dialect, conn_rec, cargs, cparams):
        import boto3

        region = os.environ["AWS_REGION"]
        if region not in _clients:
            _clients[region] = boto3.client("rds", region_name=region)
        cparams["password"] = _clients[region].generate_db_auth_token(
            DBHostname=cparams["host"], Port=int(cparams.get("port", 5432)), DBUsername=cparams["user"], Region=region,
        )
