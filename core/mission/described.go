package mission

import (
	"encoding/json"
	"fmt"

	"github.com/planetary/planetary/core/ownercmd"
	"github.com/planetary/planetary/raftfsm/command"
)

// The owner-schedule side of the described owner commands
// (raftfsm/command, params.go): each is an action named as its registry
// row, whose attributes are the command's params, checked and documented
// from the row.

// CommandAction is a schedule entry's described owner command: its row and
// the command with its params set.
type CommandAction struct {
	Spec command.Spec
	Cmd  command.Command
}

// Action implements OwnerAction.
func (a *CommandAction) Action() string { return a.Spec.Name }

// Command implements OwnerAction: a copy of the command with meta set.
func (a *CommandAction) Command(m command.Meta) (command.MessageType, any) {
	c := a.Spec.New()
	b, err := a.Cmd.MarshalMsg(nil)
	if err == nil {
		_, err = c.UnmarshalMsg(b)
	}
	if err != nil {
		panic(fmt.Sprintf("mission: copy %s: %v", a.Spec.Name, err))
	}
	*command.MetaOf(c) = m
	return a.Spec.Type, c
}

// Arg is the value of the command's positional param (the node or shard it
// concerns).
func (a *CommandAction) Arg() string { return a.Spec.Arg().Format(a.Cmd) }

// MarshalJSON writes the set params by name, as a mission shows them: the
// request body of the command (ownercmd.Body) with its positional param.
func (a *CommandAction) MarshalJSON() ([]byte, error) {
	out := ownercmd.Body(a.Spec, a.Cmd)
	if arg := a.Spec.Arg(); !arg.IsZero(a.Cmd) {
		out[arg.Name] = arg.Get(a.Cmd)
	}
	return json.Marshal(out)
}

// describedDocs are the schedule actions of the described commands.
func describedDocs() []ActionDoc {
	var out []ActionDoc
	for _, s := range command.DescribedSpecs() {
		d := ActionDoc{Name: s.Name, Description: s.Synopsis + "."}
		for _, p := range s.Params {
			a := AttrDoc{Name: p.Name, Description: p.Help, Required: p.Arg}
			switch p.Kind {
			case command.KindBool:
				a.Type, a.Default = TypeBool, false
			case command.KindDuration:
				a.Type, a.DefaultText = TypeDuration, "none"
			case command.KindInt:
				a.Type, a.Default = TypeInt, int64(0)
			default:
				a.Type = TypeString
				if !p.Arg {
					a.Default = ""
				}
			}
			d.Attributes = append(d.Attributes, a)
		}
		out = append(out, d)
	}
	return out
}

// decodeDescribed reads a described command's attributes; a node or shard
// param must name one the mission holds by then.
func (p *parser) decodeDescribed(s command.Spec, r *reader, e ScheduleEntry, idx int) OwnerAction {
	what := fmt.Sprintf("schedule entry %q", e.ID)
	c := s.New()
	for _, pm := range s.Params {
		if !r.Has(pm.Name) && !pm.Arg {
			continue
		}
		var v any
		switch pm.Kind {
		case command.KindNode, command.KindShard:
			name := r.NonEmpty(pm.Name)
			p.refer(string(pm.Kind), name, r.Range(pm.Name), what, idx)
			v = name
		case command.KindBool:
			v = r.Bool(pm.Name)
		case command.KindDuration:
			v = max(r.Duration(pm.Name), 0)
		case command.KindInt:
			v = r.NonNegInt(pm.Name)
		default:
			v = r.String(pm.Name)
		}
		if err := pm.Set(c, v); err != nil {
			panic(fmt.Sprintf("mission: %s: %v", s.Name, err))
		}
	}
	return &CommandAction{Spec: s, Cmd: c}
}

var _ OwnerAction = (*CommandAction)(nil)
