-- The Threshold in force when a search ran: a candidate scoring below it
-- is not offered as a possible match without a recorded override. NULL:
-- no calibration was available, so every possible match needs one.
ALTER TABLE searches ADD COLUMN threshold DOUBLE PRECISION;
