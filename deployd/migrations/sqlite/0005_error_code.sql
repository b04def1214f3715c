-- The stable code of a job's failure (GIT_HOST_KEY, REGISTRY_INSECURE, ...) beside its
-- message; NULL on rows written before codes existed (functl doctor reads their message).
ALTER TABLE fun_ai_deploy_job ADD COLUMN error_code TEXT;
