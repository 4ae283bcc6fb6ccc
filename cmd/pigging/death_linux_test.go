package main

// deathSignal says that the command is sent SIGTERM when pigging dies.
const deathSignal = true
