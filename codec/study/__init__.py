"""Studies with people: a folder of stimuli, trials an observer answers, and the answers scaled
in just-objectionable differences (JOD) by Thurstone Case V."""
