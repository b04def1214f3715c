-- One row per user that has created a job: creating a job writes it first, the same
-- statement on every engine (on SQLite the write lock already serialises creation).
CREATE TABLE fun_ai_deploy_user_lock (
    user_id TEXT PRIMARY KEY NOT NULL
);
