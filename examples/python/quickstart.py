# %% [markdown]
# # Strata from Python: train, wait, deploy, predict
#
# A notebook in plain Python: run it whole (`python3 examples/python/quickstart.py` from the
# repository's root) or cell by cell (`# %%`) in Jupyter, VS Code or PyCharm.
# It needs the SDK (`pip install ./sdk/python`) and a server with a token: set `STRATA_API_URL` and
# `STRATA_TOKEN`, or log in once with `strata login` / `strata-py login`.

# %%
import os

from strata import Client, JobFailedError, QuotaExceededError

client = Client()
print("Signed in as", client.me())
print("Quota:", client.quota())

# %% [markdown]
# ## Train a built-in model on the churn data
# A local CSV is uploaded first; `lightgbm` needs no code and no image. The job registers the model
# as the next version of `churn`.

# %%
data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "churn", "churn.csv")
try:
    job = client.train(model="lightgbm", data=data, label="churned", compute="cpu-1",
                       hyperparameters={"num_leaves": 15, "learning_rate": 0.05})
except QuotaExceededError as e:
    raise SystemExit(f"over the quota of {e.resource}: {e.used} used of {e.limit}, asked {e.requested}")
print("Submitted", job)

# %%
try:
    job.wait(timeout=600, on_change=lambda j: print("  ", j.status, j.status_reason or ""))
except JobFailedError as e:
    print("\n".join(job.logs(tail=20)))
    raise SystemExit(f"training failed: {e.status_reason}: {e.error_message}")
print("Model:", job.model_version)
print("Metrics:", {p["name"]: round(p["value"], 3) for p in job.metrics()})

# %% [markdown]
# ## Deploy it and predict

# %%
endpoint = client.deploy(job.model_version, name="churn-quickstart", min_replicas=1, max_replicas=2)
endpoint.wait_ready(timeout=300)
print("Serving at", endpoint.endpoint)

# %%
customer = {"tenure_months": 10, "plan": "premium", "contract": "month-to-month", "monthly_charges": 103.22,
            "total_charges": 1055.07, "support_calls": 2, "region": "south", "paperless_billing": "yes"}
print("One:", endpoint.predict(customer))
loyal = dict(customer, tenure_months=70, contract="two-year", support_calls=0)
print("A batch:", endpoint.predict([customer, loyal]))

# %% [markdown]
# ## Clean up

# %%
endpoint.delete()
