// Command tracker is the Python Pigging README's Tracker example, ported
// line for line: start the tracker, log, run some code, log an exception if
// it fails, and stop.
//
//	go run ./examples/tracker
//
// It writes log_file.log and lock_file.lock in the working directory and
// prints its trace to stderr (set OTEL_TRACES_EXPORTER=otlp to send it to
// Jaeger instead).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pigging-go/pigging/otelpig"
	"github.com/pigging-go/pigging/pigging"
)

const (
	logPath  = "./log_file.log"
	lockPath = "./lock_file.lock"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() (err error) {
	ctx := context.Background()
	shutdown, err := otelpig.Setup(ctx, otelpig.WithServiceName("tracker"))
	if err != nil {
		return err
	}
	defer func() { _ = shutdown(context.Background()) }()

	tracker, err := pigging.New(logPath, lockPath, pigging.WithName("tracker"))
	if err != nil {
		return err
	}

	// Create the log and lock files, and start timing the script
	if _, err := tracker.Start(ctx); err != nil {
		return err
	}
	// Log the script time and remove the lock file when run returns,
	// however it returns: after LogException, or a panic, the lock stays.
	defer tracker.Stop()

	// Code block
	tracker.Info("Printing hello world...")
	if err := helloWorld(); err != nil {
		// The run fails: the lock file stays until a person has looked.
		return tracker.LogException(err)
	}
	return nil
}

// helloWorld is "your code here".
func helloWorld() error {
	_, err := fmt.Println("Hello world!")
	return err
}
