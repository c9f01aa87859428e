// LogQL and TraceQL for CodeMirror: Grafana's published Lezer grammars
// (@grafana/lezer-logql, @grafana/lezer-traceql) with highlighting tags.
// PromQL comes with @prometheus-io/codemirror-promql.

import { LRLanguage } from '@codemirror/language';
import { styleTags, tags as t } from '@lezer/highlight';
import { parser as logqlParser } from '@grafana/lezer-logql';
import { parser as traceqlParser } from '@grafana/lezer-traceql';

const common = {
  String: t.string,
  Number: t.number,
  Integer: t.number,
  Float: t.number,
  Duration: t.number,
  Bytes: t.number,
  LineComment: t.lineComment,
  BlockComment: t.blockComment,
  'Identifier LabelName': t.labelName,
  'Eq Neq Re Nre Gtr Gte Lss Lte Eql': t.compareOperator,
  'Add Sub Mul Div Mod Pow': t.arithmeticOperator,
  'And Or Unless': t.logicOperator,
  'By Without On Ignoring GroupLeft GroupRight Bool Offset': t.modifier,
};

export const logqlLanguage = LRLanguage.define({
  name: 'logql',
  parser: logqlParser.configure({
    props: [
      styleTags({
        ...common,
        'PipeExact PipeMatch PipePattern Npa Pipe': t.operator,
        'Json Logfmt Regexp Pattern Unpack LineFormat LabelFormat Unwrap Decolorize Drop Keep Ip': t.keyword,
        'CountOverTime Rate RateCounter BytesOverTime BytesRate AvgOverTime SumOverTime MinOverTime MaxOverTime StddevOverTime StdvarOverTime QuantileOverTime FirstOverTime LastOverTime AbsentOverTime':
          t.function(t.variableName),
        'Sum Avg Min Max Count Stddev Stdvar Bottomk Topk Sort Sort_Desc Approx_Topk': t.function(t.variableName),
        'DurationConv DurationSecondsConv BytesConv': t.function(t.variableName),
        Range: t.number,
      }),
    ],
  }),
  languageData: { closeBrackets: { brackets: ['(', '[', '{', '"', '`'] } },
});

export const traceqlLanguage = LRLanguage.define({
  name: 'traceql',
  parser: traceqlParser.configure({
    props: [
      styleTags({
        ...common,
        'IntrinsicField': t.keyword,
        'AttributeField Resource Span Event Link Instrumentation Parent': t.propertyName,
        'Static': t.literal,
        'FieldOp ComparisonOp': t.compareOperator,
        'Pipe UnionStructuralOp Desc Anc Gt Lt': t.operator,
        'Aggregate SelectOperation CoalesceOperation GroupOperation MetricsAggregatorFunctions': t.function(t.variableName),
      }),
    ],
  }),
  languageData: { closeBrackets: { brackets: ['(', '[', '{', '"', '`'] } },
});
