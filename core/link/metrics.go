package link

import (
	"github.com/prometheus/client_golang/prometheus"
)

// States lists the link states in the order planetary_link_state exports
// them.
var States = []State{StateConnecting, StateUp, StateBacklog, StateUnreachable, StateStopped}

// Collector exports the status of links as Prometheus metrics, read at
// scrape time so that the figures of one link agree with one another.
type Collector struct {
	status func() []Status

	state       *prometheus.Desc
	backlog     *prometheus.Desc
	acked       *prometheus.Desc
	contact     *prometheus.Desc
	rtt         *prometheus.Desc
	requests    *prometheus.Desc
	errors      *prometheus.Desc
	sent        *prometheus.Desc
	retransmits *prometheus.Desc
}

// NewCollector returns a collector of the links status returns.
func NewCollector(status func() []Status) *Collector {
	labels := []string{"from", "to"}
	return &Collector{
		status: status,
		state: prometheus.NewDesc("planetary_link_state",
			"1 for the state the link is in, 0 for the others.", []string{"from", "to", "state"}, nil),
		backlog: prometheus.NewDesc("planetary_link_backlog",
			"Messages sent on the link and not acknowledged yet.", labels, nil),
		acked: prometheus.NewDesc("planetary_link_last_acked_seq",
			"The highest seq the receiving region answered it applied.", labels, nil),
		contact: prometheus.NewDesc("planetary_link_last_contact_timestamp_seconds",
			"Unix time of the receiving region's last answer, 0 before the first.", labels, nil),
		rtt: prometheus.NewDesc("planetary_link_rtt_seconds",
			"Smoothed round trip of the link's answered requests.", labels, nil),
		requests: prometheus.NewDesc("planetary_link_requests_total",
			"Requests the receiving region answered.", labels, nil),
		errors: prometheus.NewDesc("planetary_link_errors_total",
			"Requests that failed (dropped, timed out, refused).", labels, nil),
		sent: prometheus.NewDesc("planetary_link_messages_sent_total",
			"Messages transmitted, retransmissions included.", labels, nil),
		retransmits: prometheus.NewDesc("planetary_link_messages_retransmitted_total",
			"Messages transmitted more than once.", labels, nil),
	}
}

// Collector returns a Prometheus collector of the mesh's links.
func (m *Mesh) Collector() *Collector { return NewCollector(m.Status) }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.backlog, c.acked, c.contact, c.rtt, c.requests, c.errors, c.sent, c.retransmits} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.status() {
		for _, st := range States {
			v := 0.0
			if s.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, s.From, s.To, string(st))
		}
		contact := 0.0
		if !s.LastContact.IsZero() {
			contact = float64(s.LastContact.UnixNano()) / 1e9
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, s.From, s.To)
		}
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), s.From, s.To)
		}
		gauge(c.backlog, float64(s.Backlog))
		gauge(c.acked, float64(s.LastAcked))
		gauge(c.contact, contact)
		gauge(c.rtt, s.RTT.Seconds())
		counter(c.requests, s.Requests)
		counter(c.errors, s.Errors)
		counter(c.sent, s.Sent)
		counter(c.retransmits, s.Retransmits)
	}
}

var _ prometheus.Collector = (*Collector)(nil)
