-- An entry whose image the face engine judged unsuitable is enrolled only
-- with the compiler's recorded reason; the live pipeline then enrols its
-- largest face anyway instead of dropping it.
ALTER TABLE watchlist_entries ADD COLUMN quality_override TEXT;
