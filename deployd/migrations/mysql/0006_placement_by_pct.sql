-- Placement follows the estate's rule: the usable node with the largest disk_free_pct,
-- ties broken by free bytes, then fewer containers.
ALTER TABLE fun_ai_deploy_runtime_node DROP INDEX idx_node_choice,
    ADD INDEX idx_node_choice (enabled, draining, disk_free_pct DESC, disk_free_bytes DESC,
        container_count ASC, node_name ASC);
