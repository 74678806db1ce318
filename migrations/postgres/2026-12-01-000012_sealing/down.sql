DROP TABLE sealing_passes;
