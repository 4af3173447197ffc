-- Rasa keeps its conversation trackers in a database of its own beside the gateway's.
CREATE DATABASE rasa_tracker;
