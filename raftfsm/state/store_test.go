package state

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

func fullJob() *Job {
	return &Job{Seq: 3, ID: "j", Key: "k", Home: "eu", Shard: "us", Capabilities: []string{"gpu", "cpu"},
		Priority: 2, ValueMu: 5, MaxPriceMu: 6, Kind: "sim", Payload: []byte("{}"), State: JobRunning,
		Node: "n1", Attempt: 2, Hops: 1, QuoteMu: 9, ParkedReason: "p", Output: "o", ExitCode: -1,
		Error: "e", SubmittedAt: 10, AssignedAt: 11, FinishedAt: 12, Submitter: "tok", Origin: "mars",
		Units: []Quantity{{Unit: "token", Micro: 800_000_000}}, Meters: []Meter{{Unit: "token", PerUnitMu: 2}},
		Usage: []Quantity{{Unit: "token", Micro: 500_000_000}}, SettledMu: 7,
		MaxAttempts: 4, UnparkedSeq: 41}
}

func TestUnmarshalJobCoversEveryField(t *testing.T) {
	if n := reflect.TypeOf(Job{}).NumField(); n != jobFields {
		t.Fatalf("Job has %d fields, UnmarshalJob knows %d: add the new field there", n, jobFields)
	}
	want := fullJob()
	v := reflect.ValueOf(want).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Fatalf("fullJob leaves %s zero", v.Type().Field(i).Name)
		}
	}
	b, err := want.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got Job
	rest, err := NewInterner().UnmarshalJob(b, &got)
	if err != nil || len(rest) != 0 || !reflect.DeepEqual(&got, want) {
		t.Fatalf("round trip: %v %d\n got %+v\nwant %+v", err, len(rest), got, *want)
	}
	for cut := 1; cut < len(b); cut += 3 {
		var j Job
		if _, err := NewInterner().UnmarshalJob(b[:cut], &j); err == nil {
			t.Fatalf("truncated at %d decoded", cut)
		}
	}
}

func TestSeqListKeepsOrder(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0))
			var l seqList
			model := map[uint64]bool{}
			next := uint64(1)
			for op := 0; op < 20000; op++ {
				switch k := r.IntN(10); {
				case k < 4: // submit
					l.insert(next)
					model[next] = true
					next++
				case k < 6 && len(model) > 0: // take from the front
					var first uint64
					l.each(false, func(s uint64) bool { first = s; return false })
					if !l.remove(first) {
						t.Fatal("front missing")
					}
					delete(model, first)
				case k < 8 && next > 1: // remove anywhere
					s := uint64(r.IntN(int(next-1))) + 1
					if l.remove(s) != model[s] {
						t.Fatalf("remove %d disagrees", s)
					}
					delete(model, s)
				case next > 1: // requeue an old seq
					s := uint64(r.IntN(int(next-1))) + 1
					if !model[s] {
						l.insert(s)
						model[s] = true
					}
				}
			}
			var got, want []uint64
			l.each(false, func(s uint64) bool { got = append(got, s); return true })
			for s := range model {
				want = append(want, s)
			}
			sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
			if !reflect.DeepEqual(got, want) || l.live() != len(want) {
				t.Fatalf("list has %d (live %d), model %d", len(got), l.live(), len(want))
			}
		})
	}
}

func TestQueueOrderAndIndexes(t *testing.T) {
	s := NewStore()
	s.PutShard(&Shard{Name: "eu"})
	prios := []int64{0, 2, 1, 2, 0, 1}
	for i, p := range prios {
		s.PutJob(&Job{ID: fmt.Sprint("j", i), Key: fmt.Sprint("k", i), Shard: "eu", Priority: p, State: JobQueued})
	}
	var order []string
	s.Queue("eu", func(j *Job) bool { order = append(order, j.ID); return true })
	if want := []string{"j1", "j3", "j2", "j5", "j0", "j4"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order %v", order)
	}
	// Assign j3, requeue it: it goes back to its place.
	j := s.Job("j3").Clone()
	j.State, j.Node = JobAssigned, "n"
	s.PutJob(j)
	if s.QueueLen("eu") != 5 || s.ActiveCount("n") != 1 || s.NodeCounts("n").N[JobAssigned] != 1 {
		t.Fatal("assign bookkeeping")
	}
	j = j.Clone()
	j.State, j.Node = JobQueued, ""
	s.PutJob(j)
	order = order[:0]
	s.Queue("eu", func(j *Job) bool { order = append(order, j.ID); return true })
	if order[1] != "j3" || s.ActiveCount("n") != 0 {
		t.Fatalf("requeue order %v", order)
	}
	if s.JobByKey("k4").ID != "j4" || s.Job("nope") != nil || s.JobBySeq(7) != nil {
		t.Fatal("indexes")
	}
	// Image -> FromImage rebuilds the same tables.
	r, err := FromImage(s.Image())
	if err != nil {
		t.Fatal(err)
	}
	var again []string
	r.Queue("eu", func(j *Job) bool { again = append(again, j.ID); return true })
	if !reflect.DeepEqual(order, again) || r.JobByKey("k4").ID != "j4" || r.Global() != s.Global() {
		t.Fatal("FromImage differs")
	}
	img := s.Image()
	img.Jobs[2] = img.Jobs[1]
	if _, err := FromImage(img); err == nil {
		t.Fatal("bad image accepted")
	}
}

func TestStrIndexManyKeys(t *testing.T) {
	s := NewStore()
	for i := 0; i < 50000; i++ {
		s.PutJob(&Job{ID: fmt.Sprintf("job-%d", i), Shard: "eu", State: JobCompleted})
	}
	for i := 0; i < 50000; i += 997 {
		if j := s.Job(fmt.Sprintf("job-%d", i)); j == nil || j.Seq != uint64(i+1) {
			t.Fatalf("job-%d", i)
		}
	}
	if s.Job("job-50000") != nil {
		t.Fatal("phantom")
	}
}

func TestUnmarshalJobToleratesFieldCount(t *testing.T) {
	full, _ := fullJob().MarshalMsg(nil)
	// Fewer fields: an older writer. Re-encode the first 3 elements only.
	short := msgpArray(t, full, 3)
	var j Job
	if _, err := NewInterner().UnmarshalJob(short, &j); err != nil || j.Key != "k" || j.Home != "" {
		t.Fatalf("short: %v %+v", err, j)
	}
	// More fields: a newer writer appended one.
	long := append([]byte{0xdc, 0, jobFields + 1}, full[3:]...)
	long = append(long, 0xa1, 'x')
	j = Job{}
	if rest, err := NewInterner().UnmarshalJob(long, &j); err != nil || len(rest) != 0 || !reflect.DeepEqual(&j, fullJob()) {
		t.Fatalf("long: %v", err)
	}
}

// msgpArray returns a msgpack array holding the first n (< 16) elements of
// the array16 encoded in full.
func msgpArray(t *testing.T, full []byte, n int) []byte {
	t.Helper()
	if full[0] != 0xdc {
		t.Fatalf("not an array16: %x", full[0])
	}
	body := full[3:]
	rest := body
	for i := 0; i < n; i++ {
		var err error
		if rest, err = skipOne(rest); err != nil {
			t.Fatal(err)
		}
	}
	return append([]byte{0x90 | byte(n)}, body[:len(body)-len(rest)]...)
}
