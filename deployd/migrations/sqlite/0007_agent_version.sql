-- The version each node's agent and each runner sent with its last heartbeat or claim
-- (`0.1.0 (2657bbe)`); NULL for agents that send none.
ALTER TABLE fun_ai_deploy_runtime_node ADD COLUMN agent_version TEXT;
ALTER TABLE fun_ai_deploy_runner ADD COLUMN agent_version TEXT;
