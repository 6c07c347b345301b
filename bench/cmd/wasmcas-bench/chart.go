package main

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func writeCharts(cfg *config, rep *report) error {
	if err := ratioChart(cfg.chart, rep); err != nil {
		return err
	}
	return bytesChart(cfg.bytesChart, rep)
}

// ratioChart draws each timed comparison as the ratio of wasmcas's median
// to its anchor's median, one row each, on a log scale with the anchor at 1.
// Rows with a target also show the target as a red triangle.
func ratioChart(path string, rep *report) error {
	type row struct {
		label  string
		value  float64
		target float64 // 0 when the comparison has no target
	}
	var rows []row
	for _, d := range rep.digest {
		rows = append(rows, row{"digest / sha256sum, " + d.in.name, ratio(d.wasmcas, d.anchor), 1.15})
	}
	for _, d := range rep.split {
		rows = append(rows, row{"split / sha256sum+cp, " + d.in.name, ratio(d.wasmcas, d.anchor), 0})
	}
	for _, p := range rep.publish {
		if p.oras != nil {
			rows = append(rows, row{"publish v2 / oras push, " + p.pair.name, ratio(p.wasmcas, p.oras), 0.5})
		}
	}
	for _, f := range rep.fetch {
		if f.oras != nil {
			rows = append(rows,
				row{"fetch cold / oras pull, " + f.pair.name, ratio(f.cold, f.oras), 1.5},
				row{"fetch warm / oras pull, " + f.pair.name, ratio(f.warm, f.oras), 0.7})
		}
	}
	for i := range rows {
		rows[i].label = shortLabel(rows[i].label)
	}
	n := len(rows)
	labels := make([]string, n)
	var measured, targets plotter.XYs
	lo, hi := 0.5, 2.0
	for i, r := range rows {
		y := float64(n - 1 - i) // the first row at the top
		labels[n-1-i] = r.label
		measured = append(measured, plotter.XY{X: r.value, Y: y})
		lo, hi = math.Min(lo, r.value), math.Max(hi, r.value)
		if r.target > 0 {
			targets = append(targets, plotter.XY{X: r.target, Y: y})
			lo = math.Min(lo, r.target)
		}
	}
	p := plot.New()
	p.Title.Text = "wasmcas median time / anchor median time"
	p.X.Label.Text = "ratio, log scale (1 = as fast as the anchor, lower is better)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Min, p.X.Max = lo/1.5, hi*1.5
	p.Add(plotter.NewGrid())

	anchor, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: float64(n) - 0.5}})
	if err != nil {
		return err
	}
	anchor.Color = color.Gray{Y: 80}
	anchor.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(anchor)

	points, err := plotter.NewScatter(measured)
	if err != nil {
		return err
	}
	points.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{R: 40, G: 90, B: 170, A: 255}, Radius: vg.Points(5), Shape: draw.CircleGlyph{}}
	p.Add(points)
	p.Legend.Add("measured", points)
	if len(targets) > 0 {
		marks, err := plotter.NewScatter(targets)
		if err != nil {
			return err
		}
		marks.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{R: 200, G: 50, B: 50, A: 255}, Radius: vg.Points(4), Shape: draw.TriangleGlyph{}}
		p.Add(marks)
		p.Legend.Add("target", marks)
	}
	p.NominalY(labels...)
	return p.Save(9*vg.Inch, vg.Length(1.4+0.3*float64(n))*vg.Inch, path)
}

// bytesChart draws figure 3: the bytes a second publish sends, as a percent
// of the new version's size, per method and pair.
func bytesChart(path string, rep *report) error {
	p := plot.New()
	p.Title.Text = "Bytes sent for the second version, % of the whole file"
	p.Y.Label.Text = "% of v2 size (lower is better)"
	methods := []string{"whole file", "FastCDC 64 KiB", "FastCDC 8 KiB", "wasmcas publish", "xdelta3 (floor)"}
	colors := []color.Color{
		color.RGBA{150, 150, 150, 255}, color.RGBA{230, 160, 60, 255}, color.RGBA{200, 110, 40, 255},
		color.RGBA{70, 110, 170, 255}, color.RGBA{90, 160, 90, 255},
	}
	var names []string
	for _, b := range rep.bytes {
		names = append(names, b.pair.name)
	}
	w := vg.Points(14)
	for mi, m := range methods {
		var vals plotter.Values
		for _, b := range rep.bytes {
			size := float64(b.pair.v2.size)
			v := map[string]int64{"whole file": b.pair.v2.size, "FastCDC 64 KiB": b.cdc64, "FastCDC 8 KiB": b.cdc8,
				"wasmcas publish": b.published, "xdelta3 (floor)": b.xdelta}[m]
			if v < 0 {
				v = 0
			}
			vals = append(vals, 100*float64(v)/size)
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = colors[mi]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(mi-len(methods)/2) * w
		p.Add(bars)
		p.Legend.Add(m, bars)
	}
	p.Legend.Top = true
	p.Y.Min = 0
	p.Y.Max = 140 // room for the legend above the bars
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(names))-0.4
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 4*vg.Inch, path)
}

// shortLabel keeps a chart label under about 45 characters by cutting the
// middle of long input names, which the tables on the page show in full.
func shortLabel(s string) string {
	const maxLen = 45
	r := []rune(s)
	if len(r) <= maxLen {
		return s
	}
	return string(r[:20]) + "…" + string(r[len(r)-(maxLen-21):])
}
