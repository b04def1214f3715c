-- A runner's beat moves its job's lease: with no index on the lease, the beat changes no
-- secondary index. The sweeper finds expired leases among the running jobs through
-- idx_job_status_id.
ALTER TABLE fun_ai_deploy_job DROP INDEX idx_job_lease;
