-- Which prompt made an analysis: the name a person gave a custom prompt (its file name) and its
-- text, which the worker follows instead of the built-in instructions. NULL: the built-in prompt
-- (prompt_version names its version; a custom prompt's is custom-<hash of the text>).
ALTER TABLE analysis_jobs ADD COLUMN prompt_name TEXT;
ALTER TABLE analysis_jobs ADD COLUMN prompt_text TEXT;
