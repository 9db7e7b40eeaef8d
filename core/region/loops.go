package region

import (
	"context"
	"fmt"
	"sync"

	"github.com/planetary/planetary/core/link"
	"github.com/planetary/planetary/core/server"
)

// meshLoops is what the checkpoint publisher and the hand-offs share: a
// mesh of links between every pair of h's regions, and one loop per
// region, started and stopped together.
type meshLoops struct {
	mesh   *link.Mesh
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// start builds the mesh over local (each region's outboxes and inbox),
// with the links' config lc (logging to the host's logger unless set) and
// wrap around their transports, starts it, and runs run for every region
// until stop. what names the links in errors.
func (l *meshLoops) start(h *Host, what string, local map[string]link.Endpoint, lc link.Config,
	wrap func(from, to string, t link.Transport) link.Transport, run func(ctx context.Context, name string, srv *server.Server)) error {
	if lc.Logger == nil {
		lc.Logger = h.cfg.Logger
	}
	mesh, err := link.NewMesh(link.MeshConfig{Regions: h.order, Local: local, Wrap: wrap, Link: lc})
	if err != nil {
		return fmt.Errorf("region: %s links: %w", what, err)
	}
	l.mesh = mesh
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	mesh.Start()
	for _, name := range h.order {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			run(ctx, name, h.servers[name])
		}()
	}
	return nil
}

// stop ends the loops and the links, and waits for them; a request in
// flight ends with them.
func (l *meshLoops) stop() {
	l.cancel()
	l.wg.Wait()
	l.mesh.Stop()
}
