"""The anchor of the submission benchmark: the seed course's job-submission API in its own shape
(FastAPI, pydantic models, the demo `Bearer tenant-<id>` token, an in-memory dict; no durability and no
Kubernetes call). Written from the course's description for the benchmark only; not part of Strata."""
import uuid
from datetime import datetime
from enum import Enum
from typing import Any, Dict, Optional

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

app = FastAPI(title="seed anchor")
security = HTTPBearer()
jobs_db: Dict[str, dict] = {}


class ComputeType(str, Enum):
    CPU = "cpu"
    GPU = "gpu"
    TPU = "tpu"


class InstanceConfig(BaseModel):
    type: ComputeType = ComputeType.CPU
    cpu_cores: int = Field(default=4, ge=1, le=96)
    memory_gb: int = Field(default=16, ge=1, le=768)
    gpu_count: Optional[int] = Field(default=None, ge=1, le=8)
    gpu_type: Optional[str] = None


class TrainingJobSpec(BaseModel):
    name: str
    tenant_id: Optional[str] = None
    docker_image: str = "python:3.11"
    entrypoint: str = "python train.py"
    data_path: str = "s3://data/train.csv"
    compute: InstanceConfig = Field(default_factory=InstanceConfig)
    hyperparameters: Dict[str, Any] = Field(default_factory=dict)
    env_vars: Dict[str, str] = Field(default_factory=dict)
    model_output_path: str = "s3://models/out/"


class TrainingJob(BaseModel):
    id: str
    spec: TrainingJobSpec
    status: str
    created_at: str
    kubernetes_job_name: str


def tenant_from_token(credentials: HTTPAuthorizationCredentials = Depends(security)) -> str:
    if credentials.credentials.startswith("tenant-"):
        return credentials.credentials[7:]
    raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="Invalid authentication token")


@app.post("/v1/jobs/training", response_model=TrainingJob, status_code=201)
async def create_training_job(spec: TrainingJobSpec, tenant_id: str = Depends(tenant_from_token)):
    if spec.tenant_id is not None and spec.tenant_id != tenant_id:
        raise HTTPException(status_code=403, detail="Cannot create jobs for other tenants")
    job_id = str(uuid.uuid4())
    job = TrainingJob(id=job_id, spec=spec, status="pending", created_at=datetime.utcnow().isoformat(),
                      kubernetes_job_name=f"{spec.name}-{job_id[:8]}")
    jobs_db[job_id] = job
    return job
