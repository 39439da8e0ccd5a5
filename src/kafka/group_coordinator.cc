// The group coordinator lands here (next commit).
