/**
 * One ECharts chart, imported through `echarts/core` with only the charts and components the
 * report charts use (bar, line, pie, funnel; grid, tooltip, legend), so the chart library stays
 * in the lazily loaded report pages' chunk and out of the first load. Resizes with its card
 * (a ResizeObserver), so charts fit a 375 px phone.
 */
import { BarChart, FunnelChart, LineChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";
import type { ChartOption } from "./definition";

echarts.use([BarChart, LineChart, PieChart, FunnelChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer]);

export interface EChartProps {
  option: ChartOption;
  height?: number;
  testId?: string;
  /** A click on a bar, point or slice: its data index (the result row, for ungrouped series). */
  onPick?(index: number, seriesName: string | undefined): void;
}

export default function EChart({ option, height = 320, testId, onPick }: EChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const pick = useRef(onPick);
  pick.current = onPick;

  useEffect(() => {
    if (!box.current) return;
    const instance = echarts.init(box.current);
    chart.current = instance;
    instance.on("click", (params) => {
      const p = params as { dataIndex?: number; seriesName?: string };
      if (typeof p.dataIndex === "number") pick.current?.(p.dataIndex, p.seriesName);
    });
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(box.current);
    return () => {
      observer.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(option as echarts.EChartsCoreOption, true);
  }, [option]);

  return <div ref={box} style={{ width: "100%", height }} data-testid={testId} />;
}
